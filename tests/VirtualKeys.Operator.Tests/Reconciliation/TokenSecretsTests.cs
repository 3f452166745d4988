using VirtualKeys.Operator.Reconciliation;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class TokenSecretsTests
{
    [Theory]
    [InlineData("team-a")]
    [InlineData("a.b-c")]
    public void KeyLabelValue_IsTheNameWhenItFits(string name) => Assert.Equal(name, TokenSecrets.KeyLabelValue(name));

    [Fact]
    public void KeyLabelValue_OfA63CharacterName_IsTheName()
    {
        var name = new string('a', 63);
        Assert.Equal(name, TokenSecrets.KeyLabelValue(name));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(200)]
    [InlineData(247)]
    public void KeyLabelValue_OfALongerName_IsAValidLabelValue_ThatStillTellsNamesApart(int length)
    {
        var name = new string('k', length - 2) + "-1";
        var sibling = new string('k', length - 2) + "-2";

        var value = TokenSecrets.KeyLabelValue(name);

        Assert.True(value.Length <= 63, value);
        Assert.Matches("^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", value);
        Assert.Equal(value, TokenSecrets.KeyLabelValue(name));
        Assert.NotEqual(value, TokenSecrets.KeyLabelValue(sibling));
    }

    [Fact]
    public void KeyLabelValue_CutsAtADotOrDash_WithoutEndingTheKeptPartOnOne()
    {
        // The cut falls right after the '.' at index 51: the kept part drops it before the hash.
        var name = new string('a', 51) + "." + new string('b', 20);

        var value = TokenSecrets.KeyLabelValue(name);

        Assert.StartsWith(new string('a', 51) + "-", value, StringComparison.Ordinal);
        Assert.DoesNotContain(".-", value, StringComparison.Ordinal);
    }
}
