using VirtualKeys.Sidecar.Pricing;

namespace VirtualKeys.Sidecar.Tests.Pricing;

public sealed class PricingTableTests
{
    private static readonly ModelPrice Unknown = new(100m, 200m);

    [Theory]
    [InlineData("gpt-4o", 2.50, 10.00)]
    [InlineData("gpt-4o-mini", 0.15, 0.60)]
    [InlineData("gpt-4o-2024-08-06", 2.50, 10.00)]
    [InlineData("gpt-4o-mini-2024-07-18", 0.15, 0.60)]
    [InlineData("gpt-4.1", 2.00, 8.00)]
    [InlineData("gpt-4.1-mini", 0.40, 1.60)]
    [InlineData("o3-mini", 1.10, 4.40)]
    [InlineData("text-embedding-3-small", 0.02, 0)]
    [InlineData("claude-sonnet-4-20250514", 3.00, 15.00)]
    [InlineData("claude-3-5-haiku-latest", 0.80, 4.00)]
    [InlineData("gemini-2.5-pro", 1.25, 10.00)]
    [InlineData("gemini-2.5-flash", 0.30, 2.50)]
    public void The_shipped_table_prices_common_models_and_their_dated_versions(string model, double input, double output)
    {
        var table = PricingTable.Load(null, Unknown);

        var price = table.Find(model, out var known);

        Assert.True(known);
        Assert.Equal(new ModelPrice((decimal)input, (decimal)output), price);
    }

    [Theory]
    [InlineData("llama-3-70b")]
    [InlineData("gpt")]
    [InlineData("")]
    public void An_unknown_model_gets_the_default_price(string model)
    {
        var price = PricingTable.Load(null, Unknown).Find(model, out var known);

        Assert.False(known);
        Assert.Equal(Unknown, price);
    }

    [Fact]
    public void A_mounted_file_overrides_and_extends_the_shipped_table()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "{\"models\":{\"gpt-4o\":{\"inputPerMillionUsd\":1.0,\"outputPerMillionUsd\":2.0},\"house-llm\":{\"inputPerMillionUsd\":0.5}}}");

            var table = PricingTable.Load(file, Unknown);

            Assert.Equal(new ModelPrice(1.0m, 2.0m), table.Find("gpt-4o", out _));
            Assert.Equal(new ModelPrice(0.5m, 0m), table.Find("house-llm", out _));
            Assert.Equal(new ModelPrice(0.15m, 0.60m), table.Find("gpt-4o-mini", out _));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_broken_pricing_file_fails_with_its_path()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "{\"models\":{\"x\":{\"outputPerMillionUsd\":1}}}");

            var error = Assert.Throws<InvalidOperationException>(() => PricingTable.Load(file, Unknown));

            Assert.Contains(file, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Cost_is_priced_per_million_tokens_in_decimal()
    {
        Assert.Equal(0.0075m, new ModelPrice(2.50m, 10.00m).Cost(1000, 500));
    }
}
