using System.Security.Cryptography;
using System.Text;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// SHA-256 of a whole token (<c>vk_&lt;keyid&gt;_&lt;secret&gt;</c>, UTF-8). A rotated-out token keeps
/// working until <see cref="NotAfter"/>.
/// </summary>
public sealed class TokenHash
{
    public TokenHash(ReadOnlySpan<byte> sha256, DateTimeOffset? notAfter = null)
    {
        if (sha256.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException($"A token hash is {SHA256.HashSizeInBytes} bytes, not {sha256.Length}.", nameof(sha256));
        }

        Sha256 = sha256.ToArray();
        NotAfter = notAfter;
    }

    public ReadOnlyMemory<byte> Sha256 { get; }

    public DateTimeOffset? NotAfter { get; }

    public static TokenHash FromToken(string token, DateTimeOffset? notAfter = null)
    {
        ArgumentNullException.ThrowIfNull(token);
        return new TokenHash(SHA256.HashData(Encoding.UTF8.GetBytes(token)), notAfter);
    }

    public override string ToString() => NotAfter is { } until ? $"token hash (valid until {until:O})" : "token hash";
}
