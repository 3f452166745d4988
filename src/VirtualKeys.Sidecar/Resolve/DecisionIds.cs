using System.Globalization;
using System.Security.Cryptography;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>
/// Decision ids are "d" + a random per-process prefix + a sequence number (hex). The sequence makes it
/// possible to tell a repeated report of a settled decision from an id this sidecar never issued
/// without remembering every settled id.
/// </summary>
internal sealed class DecisionIds
{
    private const int Length = 33;
    private readonly ulong _prefix = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    private long _sequence;

    public string Next()
    {
        var sequence = (ulong)Interlocked.Increment(ref _sequence);
        return string.Create(Length, (_prefix, sequence), static (span, state) =>
        {
            span[0] = 'd';
            state._prefix.TryFormat(span[1..17], out _, "x16", CultureInfo.InvariantCulture);
            state.sequence.TryFormat(span[17..], out _, "x16", CultureInfo.InvariantCulture);
        });
    }

    /// <summary>Whether this process issued the id (whatever became of it since).</summary>
    public bool WasIssued(ReadOnlySpan<char> id) =>
        id.Length == Length
        && id[0] == 'd'
        && ulong.TryParse(id[1..17], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var prefix)
        && prefix == _prefix
        && ulong.TryParse(id[17..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var sequence)
        && sequence >= 1
        && sequence <= (ulong)Interlocked.Read(ref _sequence);
}
