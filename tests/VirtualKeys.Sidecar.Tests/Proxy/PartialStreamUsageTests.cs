using System.Net;
using System.Text.Json.Nodes;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Proxy;

/// <summary>
/// A stream that ends early was still sent, and the provider charges for what it generated: it is
/// metered as at least the output relayed so far, never as the counts an early event happened to carry.
/// </summary>
public sealed class PartialStreamUsageTests
{
    private const int MaxTokens = 400;

    private static JsonObject Messages() => new()
    {
        ["model"] = "claude-sonnet-4-5",
        ["max_tokens"] = MaxTokens,
        ["stream"] = true,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "tell the whole team a long story" }),
    };

    private static JsonObject Chat() => new()
    {
        ["model"] = "gpt-4o",
        ["max_tokens"] = MaxTokens,
        ["stream"] = true,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "tell the whole team a long story" }),
    };

    [Fact]
    public async Task An_Anthropic_stream_the_client_abandons_is_not_metered_as_the_one_output_token_of_message_start()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        sidecar.Upstream.PauseStreamsAfterFirstChunk();

        var response = await sidecar.ProxyAsync("/v1/messages", token, Messages(), anthropicHeader: true);
        string first;
        using (var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20)))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(bounded.Token));
            first = await reader.ReadLineAsync(bounded.Token) ?? "";
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("event: message_start", first);
        response.Dispose();

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.Cancelled, record.Outcome);
        Assert.True(record.Estimated);
        Assert.True(record.OutputTokens > 1, $"metered {record.OutputTokens} output tokens for an abandoned stream");
        Assert.InRange(record.OutputTokens, 2, MaxTokens);
        Assert.True(record.InputTokens > 0);
    }

    [Fact]
    public async Task A_stream_the_provider_breaks_off_is_metered_as_the_output_relayed_not_as_nothing()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.BreakNextStreams(1);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20)))
        {
            // The sidecar cuts the client's connection too, so that it cannot take the part for the whole.
            await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsStringAsync(bounded.Token));
        }

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.True(record.Estimated);
        Assert.InRange(record.OutputTokens, 1, MaxTokens);
        Assert.True(record.InputTokens > 0);
        Assert.True(record.CostUsd > 0m);
    }

    // A stream's events wrap each word in a hundred bytes or more of JSON and SSE: a client that hangs up
    // after the first word is charged about that word, not a token per four bytes of wrapping (before:
    // about 70 output tokens for one word).
    [Fact]
    public async Task A_chat_stream_abandoned_after_its_first_word_is_charged_about_that_word_not_the_events_around_it()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.PauseStreamsAfterFirstChunk();

        var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat());
        var relayed = new List<string>();
        using (var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20)))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(bounded.Token));
            while (!relayed.Any(line => line.Contains("\"content\":\"This \"", StringComparison.Ordinal)))
            {
                relayed.Add(await reader.ReadLineAsync(bounded.Token) ?? throw new InvalidOperationException("the stream ended"));
            }
        }

        response.Dispose();

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.Cancelled, record.Outcome);
        Assert.True(record.Estimated);
        Assert.InRange(record.OutputTokens, 1, 3);
    }

    // Anthropic ends a stream with an error event when it is overloaded mid-answer, and the message_delta
    // with the final count never comes: not a success of the one output token message_start announced.
    [Fact]
    public async Task An_Anthropic_stream_that_reports_an_error_inside_it_is_an_upstream_error_metered_by_estimate()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        sidecar.Upstream.ErrorInNextStreams(1);

        using var response = await sidecar.ProxyAsync("/v1/messages", token, Messages(), anthropicHeader: true);
        var body = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: error", body, StringComparison.Ordinal);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.Equal("stream_error", record.Detail);
        Assert.True(record.Estimated);
        Assert.InRange(record.OutputTokens, 2, MaxTokens);
        Assert.True(record.InputTokens > 0);
    }

    [Fact]
    public async Task A_chat_stream_with_an_error_object_inside_it_is_an_upstream_error()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.ErrorInNextStreams(1);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat());
        var body = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"error\":{", body, StringComparison.Ordinal);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.Equal("stream_error", record.Detail);
        Assert.True(record.Estimated);
    }

    // The provider had the whole request when the client gave up waiting: it goes on and charges for
    // it, so the request is not metered as free (before: 0 tokens, $0, not marked as estimated).
    [Fact]
    public async Task A_client_that_gives_up_before_the_first_byte_is_charged_the_input_estimate()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        // Far longer than the test takes: the client must give up first however slowly it polls.
        sidecar.Upstream.DelayNext(1, TimeSpan.FromSeconds(60));
        var body = Chat();
        body.Remove("stream");
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(TestSidecar.Cancel);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = TestSidecar.Json(body) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        var sent = sidecar.Client.SendAsync(request, giveUp.Token);
        using (var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20)))
        {
            while (sidecar.Upstream.Requests.Count == 0)
            {
                await Task.Delay(10, bounded.Token);
            }
        }

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.Cancelled, record.Outcome);
        Assert.True(record.Estimated);
        Assert.Equal((body.ToJsonString().Length + 3) / 4, record.InputTokens);
        Assert.Equal(0, record.OutputTokens);
        Assert.True(record.CostUsd > 0m);
        Assert.Contains("vk_sidecar_usage_estimated_total 1", await sidecar.MetricsAsync(), StringComparison.Ordinal);
    }
}
