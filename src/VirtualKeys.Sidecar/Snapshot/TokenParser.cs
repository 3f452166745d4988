using System.Buffers;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// The request-path check of a presented token's shape, on spans (no allocation), against the format
/// the registry issues (<see cref="VirtualKeyToken"/>, <see cref="VirtualKeyId"/>). Only a refusal
/// goes through the registry's own parser, for its description of what is wrong.
/// </summary>
internal static class TokenParser
{
    public const int MaxTokenLength = VirtualKeyToken.Length;

    private const int SeparatorIndex = 3 + VirtualKeyId.Length;

    private static readonly SearchValues<char> SecretAlphabet = SearchValues.Create(VirtualKeyToken.SecretAlphabet);

    public static bool TryParse(ReadOnlySpan<char> token, out ReadOnlySpan<char> keyId)
    {
        keyId = default;
        if (token.Length != VirtualKeyToken.Length
            || !token.StartsWith(VirtualKeyToken.Prefix, StringComparison.Ordinal)
            || token[SeparatorIndex] != '_')
        {
            return false;
        }

        var id = token.Slice(VirtualKeyToken.Prefix.Length, VirtualKeyId.Length);
        if (!VirtualKeyId.IsValid(id) || token[(SeparatorIndex + 1)..].ContainsAnyExcept(SecretAlphabet))
        {
            return false;
        }

        keyId = id;
        return true;
    }

    /// <summary>What is wrong with a token <see cref="TryParse"/> rejected; never echoes it.</summary>
    public static string Describe(ReadOnlySpan<char> token)
    {
        VirtualKeyToken.TryParse(token.ToString(), out _, out var error);
        return VirtualKeyToken.Describe(error);
    }
}
