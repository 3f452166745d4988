using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// What this process last wrote to the registry for each key (by uid): a digest of the spec,
/// the credential fingerprints and the token, or of the restriction applied while the spec could
/// not be registered (with the registry's answer, which the status reports). An idle resync whose
/// digest matches skips the registry entirely. After a restart the cache is empty and the first
/// write per key runs; the registry compares it with what it holds and writes nothing when nothing
/// differs. A restriction replaces the upsert's digest, so the upsert after it runs again. The
/// hashes of the tokens a write issued are kept with it: the reconciler trusts such a token without
/// asking the registry whether it was retired.
/// </summary>
public sealed class RegistryWriteCache
{
    // Keys the credential digests: they live only in this process's memory and say nothing outside it.
    private readonly byte[] _digestKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, AppliedWrite> _applied = new(StringComparer.Ordinal);

    public string Digest(VirtualKeyUpsert upsert)
    {
        ArgumentNullException.ThrowIfNull(upsert);
        var text = new StringBuilder()
            .Append(upsert.Identity.Uid).Append('\n')
            .Append(upsert.Generation.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append(upsert.SpecFingerprint).Append('\n');
        foreach (var credential in upsert.Credentials.OrderBy(c => c.ProviderName, StringComparer.Ordinal))
        {
            text.Append(credential.ProviderName).Append('=')
                .Append(Convert.ToHexStringLower(HMACSHA256.HashData(_digestKey, Encoding.UTF8.GetBytes(credential.Secret)))).Append('\n');
        }

        foreach (var token in upsert.Tokens?.Issue ?? [])
        {
            text.Append("token=").Append(Convert.ToHexStringLower(token.ComputeHash())).Append('\n');
        }

        text.Append("retire=").Append(upsert.Tokens?.RetireOthersAt?.UtcTicks.ToString(CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    public string Digest(VirtualKeyRestriction restriction)
    {
        ArgumentNullException.ThrowIfNull(restriction);

        // Prefixed: a restriction's digest never equals an upsert's.
        var text = new StringBuilder("restrict\n")
            .Append(restriction.Identity.Uid).Append('\n')
            .Append(restriction.Suspend ? "suspend" : "-").Append('\n')
            .Append(restriction.ExpiresAt?.UtcTicks.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var token in restriction.Tokens?.Issue ?? [])
        {
            text.Append("token=").Append(Convert.ToHexStringLower(token.ComputeHash())).Append('\n');
        }

        text.Append("retire=").Append(restriction.Tokens?.RetireOthersAt?.UtcTicks.ToString(CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    public bool IsCurrent(string uid, string digest) =>
        _applied.TryGetValue(uid, out var applied) && string.Equals(applied.Digest, digest, StringComparison.Ordinal);

    /// <param name="restriction">What the registry answered when this restriction was applied (null: no such key).</param>
    public bool IsCurrent(string uid, string digest, out RestrictionResult? restriction)
    {
        restriction = null;
        if (!_applied.TryGetValue(uid, out var applied) || !string.Equals(applied.Digest, digest, StringComparison.Ordinal))
        {
            return false;
        }

        restriction = applied.Restriction;
        return true;
    }

    /// <summary>
    /// Whether this process's last write for the key issued <paramref name="token"/>. The registry
    /// then holds it live: only a later write for the key (a rotation) sets it an end, and a rotation
    /// by another process also changes the token Secret, which then holds another token.
    /// </summary>
    public bool Issued(string uid, VirtualKeyToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _applied.TryGetValue(uid, out var applied) && applied.Tokens.Contains(Convert.ToHexStringLower(token.ComputeHash()), StringComparer.Ordinal);
    }

    public void Applied(string uid, string digest, TokenChanges tokens) => _applied[uid] = new AppliedWrite(digest, null, Hashes(tokens));

    /// <param name="tokens">The token changes the restriction carried; they reached a key only when <paramref name="restriction"/> is not null.</param>
    public void Applied(string uid, string digest, RestrictionResult? restriction, TokenChanges? tokens) =>
        _applied[uid] = new AppliedWrite(digest, restriction, restriction is null ? [] : Hashes(tokens));

    /// <returns>Whether anything was remembered for the key.</returns>
    public bool Forget(string uid) => _applied.TryRemove(uid, out _);

    private static string[] Hashes(TokenChanges? tokens) => [.. (tokens?.Issue ?? []).Select(t => Convert.ToHexStringLower(t.ComputeHash()))];

    private sealed record AppliedWrite(string Digest, RestrictionResult? Restriction, string[] Tokens);
}
