namespace VirtualKeys.Model.Tests.Conventions;

public class UsdAmountTests
{
    [Theory]
    [InlineData("25", 25)]
    [InlineData("12.50", 12.5)]
    [InlineData("0.000125", 0.000125)]
    [InlineData("-3.5", -3.5)]
    public void Parses_plain_decimals(string text, double expected)
    {
        Assert.True(UsdAmount.TryParse(text, out var amount));
        Assert.Equal((decimal)expected, amount);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("1e3")]
    [InlineData("1,000")]
    [InlineData("+5")]
    [InlineData(".5")]
    [InlineData("5.")]
    [InlineData(" 5")]
    [InlineData("$5")]
    [InlineData("NaN")]
    [InlineData("99999999999999999999999999999999")]
    public void Refuses_anything_else(string? text)
    {
        Assert.False(UsdAmount.TryParse(text, out _));
    }

    [Theory]
    [InlineData(0, "0.00")]
    [InlineData(12.5, "12.50")]
    [InlineData(0.000125, "0.000125")]
    [InlineData(3.1234567, "3.123457")]
    public void Formats_with_two_to_six_decimals(double amount, string expected)
    {
        Assert.Equal(expected, UsdAmount.Format((decimal)amount));
    }

    [Fact]
    public void What_it_formats_it_parses_and_the_schema_pattern_accepts()
    {
        var text = UsdAmount.Format(1234.5m);

        Assert.True(UsdAmount.TryParse(text, out var amount));
        Assert.Equal(1234.5m, amount);
        Assert.Matches(UsdAmount.Pattern, text);
    }
}
