using System.Buffers.Binary;
using System.Numerics;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>
/// SipHash-2-4 (Aumasson and Bernstein): a keyed pseudo-random function with a 128-bit key and a
/// 64-bit output, built for short inputs. It tags decision ids: a keyed MAC over eight bytes, which
/// HMAC-SHA256 through OpenSSL did at several microseconds of setup per call, on every resolve.
/// </summary>
internal static class SipHash
{
    public static ulong Hash(ulong k0, ulong k1, ReadOnlySpan<byte> message)
    {
        var v0 = k0 ^ 0x736f6d6570736575UL;
        var v1 = k1 ^ 0x646f72616e646f6dUL;
        var v2 = k0 ^ 0x6c7967656e657261UL;
        var v3 = k1 ^ 0x7465646279746573UL;

        var whole = message.Length & ~7;
        for (var i = 0; i < whole; i += 8)
        {
            var m = BinaryPrimitives.ReadUInt64LittleEndian(message[i..]);
            v3 ^= m;
            Round(ref v0, ref v1, ref v2, ref v3);
            Round(ref v0, ref v1, ref v2, ref v3);
            v0 ^= m;
        }

        // The last word: the remaining bytes, little-endian, with the message length in the top byte.
        var last = (ulong)(message.Length & 0xff) << 56;
        var tail = message[whole..];
        for (var i = 0; i < tail.Length; i++)
        {
            last |= (ulong)tail[i] << (8 * i);
        }

        v3 ^= last;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= last;

        v2 ^= 0xff;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
