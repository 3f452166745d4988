using CsCheck;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Reliability.Tests.Fuzz;

/// <summary>Generators shared by the fuzz tests: hostile strings, and strings shaped almost like tokens.</summary>
internal static class FuzzGens
{
    /// <summary>How many cases each property tries (more in the published run).</summary>
    public static long Iterations(long quick, long full) => Support.ReliabilityRun.Pick(quick, full);

    /// <summary>Characters people and attackers actually send: ASCII, controls, quotes, non-ASCII letters, lone surrogates.</summary>
    public static readonly Gen<char> HostileChar = Gen.Frequency(
        (10, Gen.Char['a', 'z']),
        (4, Gen.Char['0', '9']),
        (3, Gen.Char['A', 'Z']),
        (3, Gen.Char["_-./:@'\"\\ %$[]{}"]),
        (2, Gen.Char['\0', '\u001f']),
        (1, Gen.Char["\u007f\u0085\u00a0\u200b\u202e\ufeff\u0430\u00e9"]),
        (1, Gen.Char['\ud800', '\udfff']),
        (1, Gen.Char));

    public static readonly Gen<string> HostileString = HostileChar.Array[0, 80].Select(chars => new string(chars));

    public static readonly Gen<string> KeyId = Gen.Char[VirtualKeyId.Alphabet].Array[VirtualKeyId.Length, VirtualKeyId.Length].Select(chars => new string(chars));

    /// <summary>A real token, freshly generated for a random key id.</summary>
    public static readonly Gen<VirtualKeyToken> Token = KeyId.Select(VirtualKeyToken.Generate);

    /// <summary>Strings near the token shape: a real token with one character replaced, inserted or removed, or its prefix changed.</summary>
    public static readonly Gen<(string Original, string Mutated)> MutatedToken =
        Gen.Select(Token, Gen.Int[0, VirtualKeyToken.Length - 1], HostileChar, Gen.Int[0, 3]).Select((token, at, c, how) =>
        {
            var text = token.Reveal();
            var mutated = how switch
            {
                0 => text[..at] + c + text[(at + 1)..],
                1 => text[..at] + c + text[at..],
                2 => text[..at] + text[(at + 1)..],
                _ => "VK_" + text[3..],
            };
            return (text, mutated);
        });
}
