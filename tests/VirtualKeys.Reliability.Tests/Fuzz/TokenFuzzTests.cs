using CsCheck;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Reliability.Tests.Fuzz;

/// <summary>
/// Property tests of the token format (<see cref="VirtualKeyToken"/>): parsing never throws, issued
/// tokens round-trip, mutations are caught, and nothing that describes a token repeats its secret.
/// Failing examples are printed by length only: they are (near-)tokens.
/// </summary>
public sealed class TokenFuzzTests
{
    [Fact]
    public void Parsing_any_string_never_throws_and_reports_a_reason_exactly_when_it_refuses()
    {
        FuzzGens.HostileString.Sample(
            text =>
            {
                var parsed = VirtualKeyToken.TryParse(text, out var token, out var error);
                Assert.Equal(parsed, error == TokenFormatError.None);
                Assert.Equal(parsed, token is not null);
                var description = VirtualKeyToken.Describe(error);
                Assert.False(string.IsNullOrWhiteSpace(description));
                if (text.Length >= 4)
                {
                    Assert.DoesNotContain(text, description, StringComparison.Ordinal);
                }
            },
            iter: FuzzGens.Iterations(20_000, 500_000),
            print: text => $"a string of {text.Length} characters");
    }

    [Fact]
    public void Parsing_null_and_empty_is_refused_as_empty()
    {
        Assert.False(VirtualKeyToken.TryParse(null, out _, out var fromNull));
        Assert.False(VirtualKeyToken.TryParse("", out _, out var fromEmpty));
        Assert.Equal(TokenFormatError.Empty, fromNull);
        Assert.Equal(TokenFormatError.Empty, fromEmpty);
    }

    [Fact]
    public void Every_issued_token_round_trips_and_never_shows_its_secret()
    {
        Gen.Select(FuzzGens.KeyId, FuzzGens.Token).Sample(
            (keyId, other) =>
            {
                var token = VirtualKeyToken.Generate(keyId);
                var text = token.Reveal();
                Assert.Equal(VirtualKeyToken.Length, text.Length);
                Assert.True(VirtualKeyToken.TryParse(text, out var parsed, out var error), error.ToString());
                Assert.Equal(keyId, parsed.KeyId);
                Assert.Equal(text, parsed.Reveal());
                Assert.Equal(token.ComputeHash(), parsed.ComputeHash());
                Assert.NotEqual(token.ComputeHash(), other.ComputeHash());
                Assert.DoesNotContain(text[20..], token.ToString(), StringComparison.Ordinal);
            },
            iter: FuzzGens.Iterations(5_000, 100_000),
            print: _ => "a generated token");
    }

    [Fact]
    public void A_mutated_token_is_refused_or_is_another_token_with_another_hash()
    {
        FuzzGens.MutatedToken.Sample(
            (original, mutated) =>
            {
                if (string.Equals(original, mutated, StringComparison.Ordinal))
                {
                    return;
                }

                if (VirtualKeyToken.TryParse(mutated, out var parsed, out _))
                {
                    // Still well-formed (a secret character swapped for another of the alphabet): then it
                    // must hash differently, so the registry refuses it.
                    Assert.True(VirtualKeyToken.TryParse(original, out var real));
                    Assert.NotEqual(real.ComputeHash(), parsed.ComputeHash());
                }
            },
            iter: FuzzGens.Iterations(20_000, 500_000),
            print: pair => $"a mutation of a token ({pair.Item2.Length} characters)");
    }

    [Fact]
    public void Key_ids_are_refused_at_generation_unless_they_are_sixteen_base32_characters()
    {
        FuzzGens.HostileString.Sample(
            candidate =>
            {
                var valid = VirtualKeyId.IsValid(candidate);
                if (valid)
                {
                    Assert.True(VirtualKeyToken.TryParse(VirtualKeyToken.Generate(candidate).Reveal(), out _));
                }
                else
                {
                    Assert.Throws<ArgumentException>(() => VirtualKeyToken.Generate(candidate));
                }
            },
            iter: FuzzGens.Iterations(10_000, 200_000));
    }
}
