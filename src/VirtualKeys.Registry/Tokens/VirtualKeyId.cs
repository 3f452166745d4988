using System.Security.Cryptography;
using System.Text;

namespace VirtualKeys.Registry.Tokens;

/// <summary>
/// The short public id of a virtual key: 16 characters of lowercase base32 (a-z, 2-7), derived from
/// the resource's uid. It appears in tokens, status, usage rows and logs; it is not a secret.
/// </summary>
/// <remarks>
/// Derived rather than random so that an operator killed between the registry write and the token
/// Secret write computes the same id on its next attempt.
/// </remarks>
public static class VirtualKeyId
{
    public const int Length = 16;

    public const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string FromUid(string uid)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uid);
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes("vk key id v1 " + uid));

        // 16 characters x 5 bits = 80 bits = the first 10 bytes of the digest.
        Span<char> id = stackalloc char[Length];
        for (var i = 0; i < Length; i++)
        {
            var bit = i * 5;
            var pair = (digest[bit / 8] << 8) | digest[(bit / 8) + 1];
            id[i] = Alphabet[(pair >> (11 - (bit % 8))) & 0x1F];
        }

        return new string(id);
    }

    public static bool IsValid(ReadOnlySpan<char> keyId)
    {
        if (keyId.Length != Length)
        {
            return false;
        }

        foreach (var c in keyId)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '2' and <= '7')))
            {
                return false;
            }
        }

        return true;
    }
}
