using System.Net;
using System.Text.Json.Nodes;
using VirtualKeys.Sidecar.Pricing;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Pricing;

/// <summary>
/// Prompt-cache hits and writes, which providers price apart from other input (OpenAI: cached input at
/// a fraction of the input price; Anthropic: cache reads at a tenth, cache writes at 1.25 times, or twice
/// for writes kept for an hour): charged at the table's prices for them, from the provider's report or
/// the router's.
/// </summary>
public sealed class PromptCachePricingTests
{
    private static readonly PricingTable Shipped = PricingTable.Load(null, new ModelPrice(10m, 30m));

    [Theory]
    [InlineData("gpt-4o", 1.25)]
    [InlineData("gpt-4.1-mini", 0.10)]
    [InlineData("o4-mini", 0.275)]
    [InlineData("claude-sonnet-4-5-20250929", 0.30)]
    [InlineData("claude-opus-4-1", 1.50)]
    [InlineData("claude-3-haiku", 0.03)]
    public void The_shipped_table_prices_cache_hits_at_the_providers_list_price(string model, double cached)
    {
        Assert.True(Shipped.TryFind(model, out var price));

        Assert.Equal((decimal)cached, price.CachedInputPerMillionUsd);
    }

    [Fact]
    public void Anthropics_cache_writes_cost_a_quarter_more_than_input_and_its_reads_a_tenth()
    {
        Assert.True(Shipped.TryFind("claude-sonnet-4-5", out var price));

        Assert.Equal(price.InputPerMillionUsd * 1.25m, price.CacheWriteInputPerMillionUsd);
        Assert.Equal(price.InputPerMillionUsd / 10m, price.CachedInputPerMillionUsd);
    }

    [Fact]
    public void Every_shipped_Anthropic_model_prices_cache_writes_kept_for_an_hour_at_twice_its_input_price()
    {
        var anthropic = Shipped.Prices.Where(p => p.Key.StartsWith("claude-", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(anthropic);
        Assert.All(anthropic, p => Assert.Equal(p.Value.InputPerMillionUsd * 2m, p.Value.CacheWriteOneHourInputPerMillionUsd));
    }

    [Fact]
    public void Writes_kept_for_an_hour_cost_their_own_price_or_without_one_the_cache_write_price()
    {
        var price = new ModelPrice(2m, 8m) { CachedInputPerMillionUsd = 0.2m, CacheWriteInputPerMillionUsd = 2.5m, CacheWriteOneHourInputPerMillionUsd = 4m };
        var withoutOneHourPrice = price with { CacheWriteOneHourInputPerMillionUsd = null };

        Assert.Equal(((100 * 2m) + (500 * 0.2m) + (100 * 2.5m) + (300 * 4m) + (10 * 8m)) / 1_000_000m, price.Cost(1000, 10, 500, 400, 300));
        Assert.Equal(((100 * 2m) + (500 * 0.2m) + (400 * 2.5m) + (10 * 8m)) / 1_000_000m, withoutOneHourPrice.Cost(1000, 10, 500, 400, 300));

        // A part of the writes, never more than they were.
        Assert.Equal(price.Cost(1000, 10, 500, 400, 400), price.Cost(1000, 10, 500, 400, 9000));
    }

    [Fact]
    public void A_pricing_file_sets_the_one_hour_cache_write_price()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "{\"models\":{\"house-claude\":{\"inputPerMillionUsd\":4,\"cacheWriteInputPerMillionUsd\":5,\"cacheWriteOneHourInputPerMillionUsd\":8}}}");

            var table = PricingTable.Load(file, new ModelPrice(10m, 30m));

            Assert.True(table.TryFind("house-claude", out var price));
            Assert.Equal((5m, 8m), (price.CacheWriteInputPerMillionUsd, price.CacheWriteOneHourInputPerMillionUsd));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Cached_and_written_input_never_count_for_more_than_the_input_there_was()
    {
        var price = new ModelPrice(2m, 8m) { CachedInputPerMillionUsd = 1m, CacheWriteInputPerMillionUsd = 3m };

        Assert.Equal(((200 * 2m) + (800 * 1m) + (10 * 8m)) / 1_000_000m, price.Cost(1000, 10, 800, 0));
        Assert.Equal(((800 * 1m) + (200 * 3m)) / 1_000_000m, price.Cost(1000, 0, 800, 900));
        Assert.Equal(1000 * 1m / 1_000_000m, price.Cost(1000, 0, 5000, 0));
        Assert.Equal(new ModelPrice(2m, 8m).Cost(1000, 10), new ModelPrice(2m, 8m).Cost(1000, 10, 800, 100));
    }

    [Fact]
    public async Task A_proxied_OpenAI_answer_whose_input_was_all_cached_costs_the_cached_price()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.CachedInputTokens = int.MaxValue;

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.True(Shipped.TryFind("gpt-4o", out var price));
        Assert.True(record.InputTokens > 0);
        Assert.Equal(((record.InputTokens * price.CachedInputPerMillionUsd!.Value) + (record.OutputTokens * price.OutputPerMillionUsd)) / 1_000_000m, record.CostUsd);
    }

    [Fact]
    public async Task A_streamed_Anthropic_answer_read_from_the_cache_costs_the_cache_read_price_and_counts_all_its_input()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        sidecar.Upstream.CachedInputTokens = int.MaxValue;
        var body = Chat("claude-sonnet-4-5");
        body["stream"] = true;

        using var response = await sidecar.ProxyAsync("/v1/messages", token, body, anthropicHeader: true);
        await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.True(Shipped.TryFind("claude-sonnet-4-5", out var price));
        Assert.False(record.Estimated);
        Assert.Single(sidecar.Upstream.Requests);
        Assert.True(record.InputTokens > 0, "cache reads are input");
        Assert.Equal(((record.InputTokens * price.CachedInputPerMillionUsd!.Value) + (record.OutputTokens * price.OutputPerMillionUsd)) / 1_000_000m, record.CostUsd);
    }

    // Anthropic reports its writes in cache_creation_input_tokens and, of them, those kept for an hour in
    // cache_creation.ephemeral_1h_input_tokens.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_proxied_Anthropic_answer_that_wrote_to_the_cache_for_an_hour_costs_the_one_hour_price_for_those_writes(bool stream)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        sidecar.Upstream.CacheWriteInputTokens = 5;
        sidecar.Upstream.CacheWriteOneHourInputTokens = 3;
        var body = Chat("claude-sonnet-4-5");
        body["stream"] = stream;

        using var response = await sidecar.ProxyAsync("/v1/messages", token, body, anthropicHeader: true);
        await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.True(Shipped.TryFind("claude-sonnet-4-5", out var price));
        Assert.False(record.Estimated);
        Assert.True(record.InputTokens > 5, "cache writes are input, and some input was not written");
        var expected = (((record.InputTokens - 5) * price.InputPerMillionUsd) + (2 * price.CacheWriteInputPerMillionUsd!.Value)
            + (3 * price.CacheWriteOneHourInputPerMillionUsd!.Value) + (record.OutputTokens * price.OutputPerMillionUsd)) / 1_000_000m;
        Assert.Equal(expected, record.CostUsd);
    }

    [Fact]
    public async Task A_router_reports_its_cached_and_written_input_and_is_charged_for_each_at_its_price()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "claude-sonnet-4-5"));
        var decisionId = await DecisionAsync(sidecar, token);

        using var reported = await sidecar.Client.PostAsync(
            "/v1/usage",
            TestSidecar.Json(new JsonObject
            {
                ["decisionId"] = decisionId,
                ["inputTokens"] = 10_000,
                ["cachedInputTokens"] = 8_000,
                ["cacheWriteInputTokens"] = 1_500,
                ["outputTokens"] = 300,
            }),
            TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        Assert.True(Shipped.TryFind("claude-sonnet-4-5", out var price));
        var expected = ((500 * price.InputPerMillionUsd) + (8_000 * price.CachedInputPerMillionUsd!.Value)
            + (1_500 * price.CacheWriteInputPerMillionUsd!.Value) + (300 * price.OutputPerMillionUsd)) / 1_000_000m;
        Assert.Equal(expected, (await TestSidecar.ReadJsonAsync(reported)).GetProperty("costUsd").GetDecimal());
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal((10_000L, expected), (record.InputTokens, record.CostUsd));
    }

    [Fact]
    public async Task A_router_reports_cache_writes_kept_for_an_hour_and_is_charged_the_one_hour_price_for_them()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "claude-sonnet-4-5"));
        var decisionId = await DecisionAsync(sidecar, token);

        using var reported = await sidecar.Client.PostAsync(
            "/v1/usage",
            TestSidecar.Json(new JsonObject
            {
                ["decisionId"] = decisionId,
                ["inputTokens"] = 10_000,
                ["cachedInputTokens"] = 2_000,
                ["cacheWriteInputTokens"] = 7_000,
                ["cacheWriteOneHourInputTokens"] = 6_000,
                ["outputTokens"] = 300,
            }),
            TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        Assert.True(Shipped.TryFind("claude-sonnet-4-5", out var price));
        var expected = ((1_000 * price.InputPerMillionUsd) + (2_000 * price.CachedInputPerMillionUsd!.Value) + (1_000 * price.CacheWriteInputPerMillionUsd!.Value)
            + (6_000 * price.CacheWriteOneHourInputPerMillionUsd!.Value) + (300 * price.OutputPerMillionUsd)) / 1_000_000m;
        Assert.Equal(expected, (await TestSidecar.ReadJsonAsync(reported)).GetProperty("costUsd").GetDecimal());
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal((10_000L, expected), (record.InputTokens, record.CostUsd));
    }

    // Writes kept for an hour are a part of cacheWriteInputTokens, as Anthropic's are of its
    // cache_creation_input_tokens: a router that reports only its 5-minute writes there would be
    // charged for less than was written.
    [Theory]
    [InlineData(10_000, 0, 2_000, "part of 'cacheWriteInputTokens'")]
    [InlineData(10_000, 1_000, -1, "must not be negative")]
    public async Task A_report_with_more_one_hour_cache_writes_than_writes_is_refused(long input, long written, long oneHour, string problem)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        var decisionId = await DecisionAsync(sidecar, token);

        using var reported = await sidecar.Client.PostAsync(
            "/v1/usage",
            TestSidecar.Json(new JsonObject
            {
                ["decisionId"] = decisionId,
                ["inputTokens"] = input,
                ["cacheWriteInputTokens"] = written,
                ["cacheWriteOneHourInputTokens"] = oneHour,
                ["outputTokens"] = 5,
            }),
            TestSidecar.Cancel);

        var error = await ErrorAssert.IsErrorAsync(reported, HttpStatusCode.BadRequest, "invalid_value");
        Assert.Equal("cacheWriteOneHourInputTokens", error.GetProperty("param").GetString());
        Assert.Contains(problem, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    // A negative figure, or cache figures beyond the input they are part of: Anthropic's input_tokens
    // leave the cache out, so a router that reports them as inputTokens beside the cache's figures
    // would be charged for less than was read.
    [Theory]
    [InlineData(10, -1, "must not be negative")]
    [InlineData(20, 8_000, "parts of 'inputTokens'")]
    public async Task A_report_with_impossible_cache_figures_is_refused(long input, long cached, string problem)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        var decisionId = await DecisionAsync(sidecar, token);

        using var reported = await sidecar.Client.PostAsync(
            "/v1/usage",
            TestSidecar.Json(new JsonObject { ["decisionId"] = decisionId, ["inputTokens"] = input, ["cachedInputTokens"] = cached, ["outputTokens"] = 5 }),
            TestSidecar.Cancel);

        var error = await ErrorAssert.IsErrorAsync(reported, HttpStatusCode.BadRequest, "invalid_value");
        Assert.Equal("cachedInputTokens", error.GetProperty("param").GetString());
        Assert.Contains(problem, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static async Task<string> DecisionAsync(TestSidecar sidecar, string token)
    {
        using var resolved = await sidecar.ResolveAsync(token);
        return (await TestSidecar.ReadJsonAsync(resolved)).GetProperty("decisionId").GetString()!;
    }

    private static JsonObject Chat(string model) => new()
    {
        ["model"] = model,
        ["max_tokens"] = 50,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "summarise the long document we cached" }),
    };
}
