using System.Text;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Proxy;

namespace VirtualKeys.Sidecar.Tests.Proxy;

public sealed class UsageScannerTests
{
    private const string OpenAIStream =
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the \\\"usage\\\": {\\\"prompt_tokens\\\": 999}\"}}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":17,\"completion_tokens\":42,\"total_tokens\":59,\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\n" +
        "data: [DONE]\n\n";

    private const string AnthropicStream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\n" +
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\" : { \"output_tokens\" : 15 }}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    private const string ResponsesStream =
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"usage\":null}}\n\n" +
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"usage\":{\"input_tokens\":8,\"output_tokens\":4,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":12}}}\n\n";

    private const string JsonBody =
        "{\"id\":\"chatcmpl-1\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"usage\"}}],\n  \"usage\": {\n    \"prompt_tokens\": 11,\n    \"completion_tokens\": 7\n  }\n}";

    private const string ResponsesBody =
        "{\"id\":\"r\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"ok\"}]}],\"usage\":{\"input_tokens\":21,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":1,\"total_tokens\":22}}";

    // An Anthropic tool call's input is an object: here a tool's own usage figures, which come before the
    // answer's usage and are larger.
    private const string AnthropicToolUseBody =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Recording the batch\"}," +
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"record_batch\",\"input\":{\"batch\":\"b-7\",\"usage\": {\"input_tokens\": 900000, \"cache_creation_input_tokens\": 5000, \"output_tokens\": 70000}}}]," +
        "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":30}}";

    // Usage-shaped objects nested in the answer, in the events and under the keys that do carry a report.
    private const string NestedInEvents =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":\"tool_use\",\"input\":{\"usage\":{\"input_tokens\":800000}}}],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n" +
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"usage\":{\"output_tokens\":600000}},\"usage\":{\"output_tokens\":15}}\n\n" +
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"parsed\":{\"usage\":{\"input_tokens\":700000,\"output_tokens\":9}}}]}],\"usage\":{\"input_tokens\":8,\"output_tokens\":4}}}\n\n" +
        "data: [{\"usage\":{\"prompt_tokens\":500000}}]\n\n";

    public static TheoryData<string, long, long> Samples() => new()
    {
        { OpenAIStream, 17, 42 },
        { AnthropicStream, 30, 15 },
        { ResponsesStream, 8, 4 },
        { JsonBody, 11, 7 },
        { ResponsesBody, 21, 1 },
        { AnthropicToolUseBody, 12, 30 },
    };

    public static TheoryData<string, long, long> AnswersWithUsageOfTheirOwn() => new()
    {
        { AnthropicToolUseBody, 12, 30 },
        { NestedInEvents, 25, 15 },
    };

    [Theory]
    [InlineData(true, 3, 0)]
    [InlineData(false, 5, 0)]
    public void Prompt_cache_hits_are_read_in_both_shapes(bool openAI, long cached, long written)
    {
        var scanner = new UsageScanner();

        scanner.Feed(Encoding.UTF8.GetBytes(openAI ? OpenAIStream : AnthropicStream));

        Assert.Equal((cached, written), (scanner.CachedInputTokens, scanner.CacheWriteInputTokens));
    }

    [Fact]
    public void Anthropic_cache_writes_and_a_Responses_API_cache_hit_are_read()
    {
        var anthropic = new UsageScanner();
        var responses = new UsageScanner();

        anthropic.Feed(Encoding.UTF8.GetBytes("{\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":900,\"cache_read_input_tokens\":0,\"output_tokens\":4}}"));
        responses.Feed(Encoding.UTF8.GetBytes("{\"usage\":{\"input_tokens\":1000,\"input_tokens_details\":{\"cached_tokens\":768},\"output_tokens\":4,\"output_tokens_details\":{\"reasoning_tokens\":0}}}"));

        Assert.Equal((910L, 0L, 900L), (anthropic.InputTokens!.Value, anthropic.CachedInputTokens, anthropic.CacheWriteInputTokens));
        Assert.Equal((1000L, 768L, 0L), (responses.InputTokens!.Value, responses.CachedInputTokens, responses.CacheWriteInputTokens));
    }

    [Fact]
    public void Anthropic_cache_writes_kept_for_an_hour_are_read_as_a_part_of_the_cache_writes()
    {
        var scanner = new UsageScanner();

        scanner.Feed(Encoding.UTF8.GetBytes(
            "{\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":900,\"cache_read_input_tokens\":50,\"cache_creation\":{\"ephemeral_5m_input_tokens\":300,\"ephemeral_1h_input_tokens\":600},\"output_tokens\":4}}"));

        Assert.Equal((960L, 50L, 900L, 600L), (scanner.InputTokens!.Value, scanner.CachedInputTokens, scanner.CacheWriteInputTokens, scanner.CacheWriteOneHourInputTokens));
    }

    // Thinking tokens a Gemini translation left out of completion_tokens are in its total, and billed as output.
    [Fact]
    public void Output_the_total_counts_beyond_input_and_completion_is_output()
    {
        var thinking = new UsageScanner();
        var consistent = new UsageScanner();

        thinking.Feed(Encoding.UTF8.GetBytes("{\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":0,\"total_tokens\":81,\"completion_tokens_details\":{\"reasoning_tokens\":60}}}"));
        consistent.Feed(Encoding.UTF8.GetBytes("{\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":60,\"total_tokens\":81}}"));

        Assert.Equal((21L, 60L), (thinking.InputTokens!.Value, thinking.OutputTokens!.Value));
        Assert.Equal((21L, 60L), (consistent.InputTokens!.Value, consistent.OutputTokens!.Value));
    }

    // message_start's usage (one output token) is Anthropic's announcement, not its report.
    [Fact]
    public void An_Anthropic_stream_with_only_its_first_usage_has_no_report()
    {
        var start = Encoding.UTF8.GetBytes(AnthropicStream[..AnthropicStream.IndexOf("event: content_block_delta", StringComparison.Ordinal)]);
        var cut = new UsageScanner(firstUsageIsPreliminary: true);
        var whole = new UsageScanner(firstUsageIsPreliminary: true);

        cut.Feed(start);
        whole.Feed(Encoding.UTF8.GetBytes(AnthropicStream));

        Assert.False(cut.SawUsage);
        Assert.Equal((30L, 1L), (cut.InputTokens, cut.OutputTokens));
        Assert.True(whole.SawUsage);
        Assert.Equal((30L, 15L), (whole.InputTokens, whole.OutputTokens));
    }

    [Fact]
    public void An_implausible_count_from_a_provider_is_bounded_so_it_cannot_overflow_the_totals()
    {
        var scanner = new UsageScanner();

        scanner.Feed(Encoding.UTF8.GetBytes(
            "{\"usage\":{\"input_tokens\":9223372036854775807,\"cache_read_input_tokens\":9223372036854775807,\"output_tokens\":9223372036854775807}}"));

        Assert.Equal(2 * TokenCounts.Max, scanner.InputTokens);
        Assert.Equal(TokenCounts.Max, scanner.OutputTokens);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Usage_is_found_in_one_read(string response, long input, long output)
    {
        var scanner = new UsageScanner();

        scanner.Feed(Encoding.UTF8.GetBytes(response));

        Assert.Equal((input, output), (scanner.InputTokens, scanner.OutputTokens));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Usage_is_found_whichever_two_reads_the_response_is_split_into(string response, long input, long output)
    {
        var bytes = Encoding.UTF8.GetBytes(response);
        for (var split = 1; split < bytes.Length; split++)
        {
            var scanner = new UsageScanner();

            scanner.Feed(bytes.AsSpan(0, split));
            scanner.Feed(bytes.AsSpan(split));

            Assert.True((input, output) == (scanner.InputTokens, scanner.OutputTokens), $"split at {split}");
        }
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Usage_is_found_when_the_response_arrives_a_byte_at_a_time(string response, long input, long output)
    {
        var scanner = new UsageScanner();

        foreach (var b in Encoding.UTF8.GetBytes(response))
        {
            scanner.Feed([b]);
        }

        Assert.Equal((input, output), (scanner.InputTokens, scanner.OutputTokens));
        Assert.Equal(Encoding.UTF8.GetByteCount(response), scanner.BytesSeen);
    }

    [Theory]
    [MemberData(nameof(AnswersWithUsageOfTheirOwn))]
    public void A_usage_object_inside_the_answer_is_not_the_providers_report_however_the_answer_is_split(string response, long input, long output)
    {
        var bytes = Encoding.UTF8.GetBytes(response);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var scanner = new UsageScanner();

            scanner.Feed(bytes.AsSpan(0, split));
            scanner.Feed(bytes.AsSpan(split));

            Assert.True((input, output, 0L) == (scanner.InputTokens, scanner.OutputTokens, scanner.CacheWriteInputTokens), $"split at {split}");
        }
    }

    [Fact]
    public void A_response_without_usage_reports_none()
    {
        var scanner = new UsageScanner();

        scanner.Feed("data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}],\"usage\":null}\n\ndata: [DONE]\n\n"u8);

        Assert.False(scanner.SawUsage);
    }

    [Fact]
    public void An_oversized_usage_object_is_ignored_and_scanning_goes_on()
    {
        var scanner = new UsageScanner();
        var huge = "{\"usage\":{\"junk\":\"" + new string('x', 5000) + "\"}}\n{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}";

        scanner.Feed(Encoding.UTF8.GetBytes(huge));

        Assert.Equal((1L, 2L), (scanner.InputTokens, scanner.OutputTokens));
    }
}
