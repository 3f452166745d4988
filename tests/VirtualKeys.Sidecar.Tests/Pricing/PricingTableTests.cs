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
    [InlineData("o1-pro", 150.00, 600.00)]
    [InlineData("o3-pro", 20.00, 80.00)]
    [InlineData("gpt-5-pro", 15.00, 120.00)]
    [InlineData("gpt-4-turbo", 10.00, 30.00)]
    [InlineData("gpt-4", 30.00, 60.00)]
    [InlineData("gpt-4.5-preview", 75.00, 150.00)]
    [InlineData("gpt-3.5-turbo-instruct", 1.50, 2.00)]
    [InlineData("o1-preview", 15.00, 60.00)]
    [InlineData("claude-3-opus", 15.00, 75.00)]
    [InlineData("claude-3-opus-20240229", 15.00, 75.00)]
    [InlineData("gemini-2.0-flash-lite", 0.075, 0.30)]
    [InlineData("gemini-1.5-pro", 1.25, 5.00)]
    [InlineData("gemini-1.5-flash", 0.075, 0.30)]
    [InlineData("gpt-4-turbo-preview", 10.00, 30.00)]
    [InlineData("gpt-4-1106-preview", 10.00, 30.00)]
    [InlineData("gpt-4-0125-preview", 10.00, 30.00)]
    [InlineData("gpt-4-32k", 60.00, 120.00)]
    [InlineData("gpt-4-32k-0613", 60.00, 120.00)]
    [InlineData("gemini-1.5-flash-8b", 0.0375, 0.15)]
    [InlineData("gemini-1.5-flash-8b-001", 0.0375, 0.15)]
    public void The_shipped_table_prices_common_models_and_their_dated_versions(string model, double input, double output)
    {
        var table = PricingTable.Load(null, Unknown);

        var price = table.Find(model, out var known);

        Assert.True(known);
        Assert.Equal(((decimal)input, (decimal)output), (price.InputPerMillionUsd, price.OutputPerMillionUsd));
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

    // The review's finding: "o1-pro" used to be priced as "o1" (a tenth of its price) because any '-' tail
    // was taken off; it is another model, priced only where it is listed.
    [Fact]
    public void A_pro_model_is_not_priced_as_the_model_its_name_starts_with()
    {
        var shipped = PricingTable.Load(null, Unknown);
        Assert.NotEqual(shipped.Find("o1", out _), shipped.Find("o1-pro", out _));
        Assert.NotEqual(shipped.Find("o3", out _), shipped.Find("o3-pro", out _));
        Assert.NotEqual(shipped.Find("gpt-5", out _), shipped.Find("gpt-5-pro", out _));

        var withoutPro = new PricingTable(new Dictionary<string, ModelPrice> { ["o1"] = new(15m, 60m) }, Unknown);

        Assert.False(withoutPro.TryFind("o1-pro", out var price, out var entry));
        Assert.Equal(Unknown, price);
        Assert.Null(entry);
        Assert.False(withoutPro.TryFind("o1-pro-2025-03-19", out price, out entry));
        Assert.Equal(Unknown, price);
        Assert.Null(entry);
    }

    // A listed model whose id is another listed id plus a suffix is priced by its own entry, never by the
    // shorter one: gemini-2.0-flash-lite is cheaper than gemini-2.0-flash, gpt-3.5-turbo-instruct dearer
    // than gpt-3.5-turbo, gpt-4 three times gpt-4-turbo.
    [Theory]
    [InlineData("gemini-2.0-flash-lite", "gemini-2.0-flash")]
    [InlineData("gemini-2.0-flash-lite-001", "gemini-2.0-flash")]
    [InlineData("gpt-3.5-turbo-instruct", "gpt-3.5-turbo")]
    [InlineData("gpt-3.5-turbo-instruct-0914", "gpt-3.5-turbo")]
    [InlineData("gpt-4-turbo", "gpt-4")]
    [InlineData("gpt-4-turbo-2024-04-09", "gpt-4")]
    [InlineData("o1-preview", "o1")]
    [InlineData("o1-preview-2024-09-12", "o1")]
    public void A_listed_model_is_not_priced_as_the_listed_model_its_name_starts_with(string model, string shorter)
    {
        var table = PricingTable.Load(null, Unknown);

        Assert.True(table.TryFind(model, out var price, out var entry));
        Assert.NotEqual(shorter, entry);
        Assert.StartsWith(shorter + "-", entry, StringComparison.Ordinal);
        Assert.Equal(table.Prices[entry], price);
        Assert.Contains(shorter, table.Prices);
    }

    [Theory]
    [InlineData("gpt-4o-2024-08-06", "gpt-4o")]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini")]
    [InlineData("gpt-3.5-turbo-0125", "gpt-3.5-turbo")]
    [InlineData("gpt-5-2025-08-07", "gpt-5")]
    [InlineData("gpt-5-pro-2025-10-06", "gpt-5-pro")]
    [InlineData("o1-pro-2025-03-19", "o1-pro")]
    [InlineData("o3-pro-2025-06-10", "o3-pro")]
    [InlineData("claude-sonnet-4-20250514", "claude-sonnet-4")]
    [InlineData("claude-sonnet-4-5-20250929", "claude-sonnet-4-5")]
    [InlineData("claude-opus-4-1-20250805", "claude-opus-4-1")]
    [InlineData("claude-3-7-sonnet-latest", "claude-3-7-sonnet")]
    [InlineData("claude-3-5-haiku-latest", "claude-3-5-haiku")]
    [InlineData("gemini-2.0-flash-001", "gemini-2.0-flash")]
    [InlineData("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro")]
    [InlineData("gemini-2.5-pro-exp-03-25", "gemini-2.5-pro")]
    [InlineData("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash")]
    [InlineData("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite")]
    [InlineData("gpt-4o-2024-08-06-latest", "gpt-4o")]
    [InlineData("gpt-4-0613", "gpt-4")]
    [InlineData("gpt-4-turbo-2024-04-09", "gpt-4-turbo")]
    [InlineData("gpt-4.5-preview-2025-02-27", "gpt-4.5-preview")]
    [InlineData("gpt-3.5-turbo-instruct-0914", "gpt-3.5-turbo-instruct")]
    [InlineData("o1-preview-2024-09-12", "o1-preview")]
    [InlineData("claude-3-opus-20240229", "claude-3-opus")]
    [InlineData("claude-3-opus-latest", "claude-3-opus")]
    [InlineData("gemini-2.0-flash-lite-001", "gemini-2.0-flash-lite")]
    [InlineData("gemini-2.0-flash-lite-preview-02-05", "gemini-2.0-flash-lite")]
    [InlineData("gemini-1.5-pro-002", "gemini-1.5-pro")]
    [InlineData("gemini-1.5-pro-latest", "gemini-1.5-pro")]
    [InlineData("gemini-1.5-flash-001", "gemini-1.5-flash")]
    public void A_dated_snapshot_or_version_alias_is_priced_as_its_model_and_named_by_it(string model, string expected)
    {
        var table = PricingTable.Load(null, Unknown);

        Assert.True(table.TryFind(model, out var price, out var entry));
        Assert.Equal(expected, entry);
        Assert.Equal(table.Prices[expected], price);
    }

    [Theory]
    [InlineData("gpt-4o-ultra")]
    [InlineData("gpt-4o-madeupQ1x")]
    [InlineData("gpt-4o-audio-preview")]
    [InlineData("gpt-4o-audio-preview-2024-12-17")]
    [InlineData("gpt-4o-realtime-preview")]
    [InlineData("gpt-4o-mini-tts")]
    [InlineData("gpt-4.1-turbo")]
    [InlineData("gpt-5-high")]
    [InlineData("o3-deep-research")]
    [InlineData("claude-sonnet-4-9")]
    [InlineData("claude-3-5-haiku-turbo-latest")]
    [InlineData("gemini-2.0-flash-exp")]
    [InlineData("gemini-2.5-flash-preview-tts")]
    [InlineData("gemini-2.5-flash-image-preview")]
    [InlineData("gpt-4o-preview")]
    [InlineData("gpt-4o-05-13")]
    [InlineData("gpt-4o-1399")]
    [InlineData("gpt-4o-2024-13-01")]
    [InlineData("gpt-4o-19990806")]
    [InlineData("gpt-4o-123")]
    [InlineData("gpt-4o-")]
    [InlineData("-2024-08-06")]
    [InlineData("latest")]
    public void Any_other_suffix_names_another_model_which_is_unknown_unless_listed(string model)
    {
        var table = PricingTable.Load(null, Unknown);

        Assert.False(table.TryFind(model, out var price, out var entry));
        Assert.Equal(Unknown, price);
        Assert.Null(entry);
    }

    [Fact]
    public void An_exact_entry_wins_over_its_undated_model_and_snapshots_are_taken_off_one_at_a_time()
    {
        var table = new PricingTable(
            new Dictionary<string, ModelPrice>
            {
                ["m"] = new(1m, 1m),
                ["m-2024-08-06"] = new(2m, 2m),
                ["m-preview-05-06"] = new(3m, 3m),
                ["m-001"] = new(4m, 4m),
            },
            Unknown);

        Assert.Equal(new ModelPrice(2m, 2m), table.Find("m-2024-08-06", out _));
        Assert.Equal(new ModelPrice(1m, 1m), table.Find("m-2024-11-20", out _));
        Assert.Equal(new ModelPrice(3m, 3m), table.Find("m-preview-05-06", out _));
        Assert.Equal(new ModelPrice(1m, 1m), table.Find("m-preview-06-05", out _));
        Assert.True(table.TryFind("m-001-latest", out var price, out var entry));
        Assert.Equal(("m-001", new ModelPrice(4m, 4m)), (entry, price));
    }

    [Fact]
    public void Finding_a_price_allocates_nothing()
    {
        var table = PricingTable.Load(null, Unknown);
        string[] models = ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash-preview-09-2025", "gpt-4o-madeupQ1x", "o1-pro", "latest"];
        foreach (var model in models)
        {
            table.TryFind(model, out _, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            foreach (var model in models)
            {
                table.TryFind(model, out _, out _);
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_mounted_file_overrides_and_extends_the_shipped_table()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "{\"models\":{\"gpt-4o\":{\"inputPerMillionUsd\":1.0,\"outputPerMillionUsd\":2.0},\"house-llm\":{\"inputPerMillionUsd\":0.5}}}");

            var table = PricingTable.Load(file, Unknown);

            // An entry replaces the shipped one whole: the shipped cached-input price goes with it.
            Assert.Equal(new ModelPrice(1.0m, 2.0m), table.Find("gpt-4o", out _));
            Assert.Equal(new ModelPrice(0.5m, 0m), table.Find("house-llm", out _));
            Assert.Equal(new ModelPrice(0.15m, 0.60m) { CachedInputPerMillionUsd = 0.075m }, table.Find("gpt-4o-mini", out _));
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
