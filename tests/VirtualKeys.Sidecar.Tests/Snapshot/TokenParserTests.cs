using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Tests.Snapshot;

public sealed class TokenParserTests
{
    [Fact]
    public void Tokens_the_registry_issues_parse_to_their_key_id()
    {
        for (var i = 0; i < 200; i++)
        {
            var keyId = VirtualKeyId.FromUid(Guid.NewGuid().ToString());
            var token = VirtualKeyToken.Generate(keyId).Reveal();

            Assert.True(TokenParser.TryParse(token, out var parsed));
            Assert.Equal(keyId, parsed.ToString());
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk-proj-0123456789012345678901234567890123456789012345678901234")]
    [InlineData("vk_abcdefghijklmnop_012345678901234567890123456789012345678901")]
    [InlineData("vk_abcdefghijklmnop_01234567890123456789012345678901234567890123")]
    [InlineData("vk_abcdefghijklmnop-012345678901234567890123456789012345678901A")]
    [InlineData("vk_ABCDEFGHIJKLMNOP_012345678901234567890123456789012345678901A")]
    [InlineData("vk_abcdefghijklmno1_012345678901234567890123456789012345678901A")]
    [InlineData("vk_abcdefghijklmnop_01234567890123456789012345678901234567890-A")]
    [InlineData("VK_abcdefghijklmnop_012345678901234567890123456789012345678901A")]
    public void Malformed_tokens_are_rejected_like_the_registry_rejects_them(string token)
    {
        Assert.False(TokenParser.TryParse(token, out _));
        Assert.False(VirtualKeyToken.TryParse(token, out _));
    }

    [Fact]
    public void A_rejected_token_is_described_without_being_echoed()
    {
        const string token = "sk-proj-0123456789";

        var description = TokenParser.Describe(token);

        Assert.Contains("vk_", description, StringComparison.Ordinal);
        Assert.DoesNotContain(token, description, StringComparison.Ordinal);
    }
}
