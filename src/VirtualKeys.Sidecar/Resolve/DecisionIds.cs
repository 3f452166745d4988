using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>
/// Decision ids are "d" + a random per-process prefix + a sequence number + a tag (all hex). The
/// sequence makes it possible to tell a repeated report of a settled decision from an id this sidecar
/// never issued without remembering every settled id. The tag, a keyed MAC of the sequence under a
/// per-process secret (SipHash-2-4, 128-bit key, 64-bit tag), makes ids unguessable: <c>POST /v1/usage</c> takes no token, so the id is the
/// only proof that the caller holds the decision, and a caller who saw one id must not be able to
/// settle (or spend on) the neighbouring decisions of other keys.
/// </summary>
internal sealed class DecisionIds
{
    private const int Length = 49;
    private const int HexDigits = 16;
    private readonly ulong _prefix = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    private readonly ulong _tagKey0 = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    private readonly ulong _tagKey1 = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");
    private long _sequence;

    public string Next()
    {
        var sequence = (ulong)Interlocked.Increment(ref _sequence);
        return string.Create(Length, (_prefix, sequence, Tag(sequence)), static (span, state) =>
        {
            span[0] = 'd';
            state._prefix.TryFormat(span.Slice(1, HexDigits), out _, "x16", CultureInfo.InvariantCulture);
            state.sequence.TryFormat(span.Slice(1 + HexDigits, HexDigits), out _, "x16", CultureInfo.InvariantCulture);
            state.Item3.TryFormat(span.Slice(1 + (2 * HexDigits), HexDigits), out _, "x16", CultureInfo.InvariantCulture);
        });
    }

    /// <summary>Whether this process issued the id (whatever became of it since).</summary>
    public bool WasIssued(ReadOnlySpan<char> id)
    {
        // Only the form Next writes: hex parsing alone would take "ABC" for "abc", and an id that
        // differs from the issued one is not that decision (it would be answered as settled).
        if (id.Length != Length
            || id[0] != 'd'
            || id[1..].ContainsAnyExcept(LowerHex)
            || !ulong.TryParse(id.Slice(1, HexDigits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var prefix)
            || prefix != _prefix
            || !ulong.TryParse(id.Slice(1 + HexDigits, HexDigits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var sequence)
            || sequence < 1
            || sequence > (ulong)Interlocked.Read(ref _sequence)
            || !ulong.TryParse(id.Slice(1 + (2 * HexDigits), HexDigits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var tag))
        {
            return false;
        }

        var expected = Tag(sequence);
        return CryptographicOperations.FixedTimeEquals(
            MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in tag)),
            MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in expected)));
    }

    private ulong Tag(ulong sequence)
    {
        Span<byte> input = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(input, sequence);
        return SipHash.Hash(_tagKey0, _tagKey1, input);
    }
}
