using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Registry.Tests;

public sealed class TokenFormatTests
{
    private static readonly string KeyId = VirtualKeyId.FromUid("0b6a4c1e-5b7f-4c59-9d43-2f0b1b7a9e11");

    [Fact]
    public void Generated_token_has_the_documented_shape_and_parses_back()
    {
        var token = VirtualKeyToken.Generate(KeyId);
        var text = token.Reveal();

        Assert.Matches("^vk_[a-z2-7]{16}_[0-9A-Za-z]{43}$", text);
        Assert.Equal(VirtualKeyToken.Length, text.Length);
        Assert.True(VirtualKeyToken.TryParse(text, out var parsed));
        Assert.Equal(KeyId, parsed.KeyId);
        Assert.Equal(token.ComputeHash(), parsed.ComputeHash());
    }

    [Fact]
    public void Secret_part_carries_at_least_256_bits_and_uses_the_whole_alphabet()
    {
        var secrets = Enumerable.Range(0, 2000).Select(_ => VirtualKeyToken.Generate(KeyId).Reveal()[^VirtualKeyToken.SecretLength..]).ToList();

        Assert.True(VirtualKeyToken.SecretLength * Math.Log2(VirtualKeyToken.SecretAlphabet.Length) >= 256);
        Assert.Equal(secrets.Count, secrets.Distinct().Count());

        // 86,000 characters over 62 symbols: each turns up about 1,387 times; a skewed generator would not.
        var counts = secrets.SelectMany(s => s).GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(62, counts.Count);
        Assert.All(counts.Values, count => Assert.InRange(count, 1100, 1700));
    }

    [Theory]
    [InlineData(null, TokenFormatError.Empty)]
    [InlineData("", TokenFormatError.Empty)]
    [InlineData("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", TokenFormatError.WrongPrefix)]
    [InlineData("VK_abcdefghijklmnop_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", TokenFormatError.WrongPrefix)]
    [InlineData("vk_abcdefghijklmnop_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", TokenFormatError.WrongLength)]
    [InlineData("vk_abcdefghijklmnop_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh", TokenFormatError.WrongLength)]
    [InlineData("vk_abcdefghijklmno1_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", TokenFormatError.BadKeyId)]
    [InlineData("vk_ABCDEFGHIJKLMNOP_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", TokenFormatError.BadKeyId)]
    [InlineData("vk_abcdefghijklmnop-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", TokenFormatError.BadKeyId)]
    [InlineData("vk_abcdefghijklmnop_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcde-g", TokenFormatError.BadSecret)]
    [InlineData("vk_abcdefghijklmnop_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcde_g", TokenFormatError.BadSecret)]
    [InlineData("vk_abcdefghijklmnop_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefé", TokenFormatError.BadSecret)]
    public void Malformed_tokens_are_rejected_with_the_reason_and_no_exception(string? text, TokenFormatError expected)
    {
        var parsed = VirtualKeyToken.TryParse(text, out var token, out var error);

        Assert.False(parsed);
        Assert.Null(token);
        Assert.Equal(expected, error);
        if (!string.IsNullOrEmpty(text))
        {
            Assert.DoesNotContain(text, VirtualKeyToken.Describe(error), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Printing_a_token_hides_its_secret()
    {
        var token = VirtualKeyToken.Generate(KeyId);

        Assert.Equal($"vk_{KeyId}_***", token.ToString());
        Assert.DoesNotContain(token.Reveal()[^VirtualKeyToken.SecretLength..], $"{token}", StringComparison.Ordinal);
    }

    [Fact]
    public void Key_id_is_stable_per_uid_and_differs_between_uids()
    {
        var again = VirtualKeyId.FromUid("0b6a4c1e-5b7f-4c59-9d43-2f0b1b7a9e11");
        var other = VirtualKeyId.FromUid("0b6a4c1e-5b7f-4c59-9d43-2f0b1b7a9e12");

        Assert.Equal(KeyId, again);
        Assert.NotEqual(KeyId, other);
        Assert.True(VirtualKeyId.IsValid(other));
    }

    [Fact]
    public void Verifier_accepts_only_the_exact_token()
    {
        var token = VirtualKeyToken.Generate(KeyId);
        var text = token.Reveal();
        var lastChar = text[^1] == 'a' ? 'b' : 'a';
        VirtualKeyToken.TryParse(text[..^1] + lastChar, out var nearMiss);
        var stored = new[] { new StoredTokenHash(token.ComputeHash(), DateTimeOffset.UnixEpoch, null) };

        Assert.Equal(TokenCheck.Accepted, TokenVerifier.Verify(token, stored, DateTimeOffset.UtcNow));
        Assert.Equal(TokenCheck.Unknown, TokenVerifier.Verify(nearMiss!, stored, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Verifier_honours_the_grace_period_end()
    {
        var token = VirtualKeyToken.Generate(KeyId);
        var notAfter = new DateTimeOffset(2025, 6, 2, 12, 0, 0, TimeSpan.Zero);
        var stored = new[] { new StoredTokenHash(token.ComputeHash(), DateTimeOffset.UnixEpoch, notAfter) };

        Assert.Equal(TokenCheck.Accepted, TokenVerifier.Verify(token, stored, notAfter.AddTicks(-1)));
        Assert.Equal(TokenCheck.Retired, TokenVerifier.Verify(token, stored, notAfter));
    }
}
