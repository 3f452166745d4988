using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace VirtualKeys.Registry.Tokens;

/// <summary>
/// A virtual-key token, <c>vk_&lt;keyid&gt;_&lt;secret&gt;</c>: the key's 16-character public id, then 43
/// base62 characters drawn uniformly (43 x log2(62) = 256.03 bits of randomness).
/// Only <see cref="ComputeHash"/> is ever stored.
/// </summary>
/// <remarks>
/// <see cref="ToString"/> hides the secret, so a token that reaches a log or an exception message
/// by accident shows only its key id. <see cref="Reveal"/> is the one way to the full text: use it
/// to write the token Secret and nowhere else.
/// </remarks>
public sealed class VirtualKeyToken
{
    public const string Prefix = "vk_";

    public const int SecretLength = 43;

    public const string SecretAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>The whole token's length: 3 + 16 + 1 + 43 = 63 characters.</summary>
    public const int Length = 3 + VirtualKeyId.Length + 1 + SecretLength;

    public const int HashLength = 32;

    private readonly string _text;

    private VirtualKeyToken(string text) => _text = text;

    public string KeyId => _text.Substring(Prefix.Length, VirtualKeyId.Length);

    public static VirtualKeyToken Generate(string keyId)
    {
        if (!VirtualKeyId.IsValid(keyId))
        {
            throw new ArgumentException($"'{keyId}' is not a virtual key id ({VirtualKeyId.Length} characters of a-z, 2-7).", nameof(keyId));
        }

        return new VirtualKeyToken(Prefix + keyId + "_" + RandomNumberGenerator.GetString(SecretAlphabet, SecretLength));
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out VirtualKeyToken? token) =>
        TryParse(text, out token, out _);

    /// <summary>Checks prefix, length and alphabets; never throws for bad input.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out VirtualKeyToken? token, out TokenFormatError error)
    {
        token = null;
        error = Validate(text);
        if (error != TokenFormatError.None)
        {
            return false;
        }

        token = new VirtualKeyToken(text!);
        return true;
    }

    /// <summary>A sentence for a refusal; it describes the expected shape and never echoes the input.</summary>
    public static string Describe(TokenFormatError error) => error switch
    {
        TokenFormatError.None => "well-formed",
        TokenFormatError.Empty => "no token was presented",
        TokenFormatError.WrongPrefix => "a virtual-key token starts with 'vk_' (was a provider key sent instead?)",
        TokenFormatError.WrongLength => $"a virtual-key token is {Length} characters long",
        TokenFormatError.BadKeyId => $"the key id after 'vk_' must be {VirtualKeyId.Length} characters of a-z and 2-7, followed by '_'",
        TokenFormatError.BadSecret => $"the token's secret part must be {SecretLength} characters of 0-9, A-Z and a-z",
        _ => "malformed token",
    };

    /// <summary>SHA-256 of the token's UTF-8 text: what the registry stores and compares.</summary>
    public byte[] ComputeHash() => SHA256.HashData(Encoding.UTF8.GetBytes(_text));

    /// <summary>The full token text, secret included.</summary>
    public string Reveal() => _text;

    public override string ToString() => Prefix + KeyId + "_***";

    private static TokenFormatError Validate(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return TokenFormatError.Empty;
        }

        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return TokenFormatError.WrongPrefix;
        }

        if (text.Length != Length)
        {
            return TokenFormatError.WrongLength;
        }

        var keyIdEnd = Prefix.Length + VirtualKeyId.Length;
        if (!VirtualKeyId.IsValid(text.AsSpan(Prefix.Length, VirtualKeyId.Length)) || text[keyIdEnd] != '_')
        {
            return TokenFormatError.BadKeyId;
        }

        foreach (var c in text.AsSpan(keyIdEnd + 1))
        {
            if (c is not ((>= '0' and <= '9') or (>= 'A' and <= 'Z') or (>= 'a' and <= 'z')))
            {
                return TokenFormatError.BadSecret;
            }
        }

        return TokenFormatError.None;
    }
}
