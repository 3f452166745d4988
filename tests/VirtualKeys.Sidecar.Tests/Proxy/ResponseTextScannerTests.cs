using System.Text;
using VirtualKeys.Sidecar.Proxy;

namespace VirtualKeys.Sidecar.Tests.Proxy;

/// <summary>What a response says besides its usage report: the generated text relayed, and errors inside a 2xx answer.</summary>
public sealed class ResponseTextScannerTests
{
    private const string ChatStream =
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"text\\\": \\\"x\\\"\"}}]}\n\n" +
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n" +
        "data: [DONE]\n\n";

    private const string AnthropicStream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n" +
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
        "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hi there\"}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \"}}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    // The Responses API repeats the request's tools (here with an "error" property of their own) and the
    // text of its deltas in the .done and completed events.
    private const string ResponsesStream =
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"status\":\"in_progress\",\"error\":null,\"tools\":[{\"type\":\"function\",\"name\":\"report\",\"parameters\":{\"type\":\"object\",\"properties\":{\"error\":{\"type\":\"string\"},\"type\":{\"type\":\"string\",\"enum\":[\"error\"]}}}}],\"output\":[],\"usage\":null}}\n\n" +
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello\"}\n\n" +
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\" world\"}\n\n" +
        "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"item_id\":\"m\",\"text\":\"Hello world\"}\n\n" +
        "event: response.content_part.done\ndata: {\"type\":\"response.content_part.done\",\"part\":{\"type\":\"output_text\",\"text\":\"Hello world\"}}\n\n" +
        "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello world\"}]}}\n\n" +
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\",\"error\":null,\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello world\"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}}\n\n";

    // A tool call's input is an object in Anthropic's answers, and may look like an error report.
    private const string AnthropicToolUse =
        "{\"id\":\"m\",\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"Logging it\"},{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"log\",\"input\":{\"type\":\"error\",\"error\":{\"code\":500}}}],\"usage\":{\"input_tokens\":9,\"output_tokens\":12}}";

    // Generated text only: "Hello", then ` \"text\": \"x\"` as JSON writes it (16 bytes), then the arguments' 9.
    private const long ChatText = 5 + 16 + 9;

    // "Hi there" (8) and the partial JSON (8 as written).
    private const long AnthropicText = 8 + 8;

    public static TheoryData<string, long> Streams() => new()
    {
        { ChatStream, ChatText },
        { AnthropicStream, AnthropicText },
        { ResponsesStream, 11 },
        { AnthropicToolUse, 10 },
        { "{\"id\":\"r\",\"object\":\"response\",\"error\":null,\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"four\"}]}],\"usage\":{\"input_tokens\":3}}", 4 },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":[0.1,0.2]}],\"usage\":{\"prompt_tokens\":3}}", 0 },
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public void Only_generated_text_is_counted_however_the_response_is_split(string response, long text)
    {
        var bytes = Encoding.UTF8.GetBytes(response);
        for (var chunk = 1; chunk <= bytes.Length; chunk = chunk < 8 ? chunk + 1 : chunk * 2)
        {
            var scanner = new ResponseTextScanner();
            for (var at = 0; at < bytes.Length; at += chunk)
            {
                scanner.Feed(bytes.AsSpan(at, Math.Min(chunk, bytes.Length - at)));
            }

            Assert.Equal(text, scanner.TextBytes);
            Assert.False(scanner.SawError, $"an error seen in a successful answer read {chunk} bytes at a time");
        }
    }

    [Theory]
    [InlineData("event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n")]
    [InlineData("data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n")]
    [InlineData("event: error\ndata: {\"type\":\"error\",\"code\":\"ERR\",\"message\":\"failed\",\"sequence_number\":3}\n\n")]
    [InlineData("{\"id\":\"r\",\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"failed\"}}")]
    [InlineData("event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"failed\"}}}\n\n")]
    public void An_error_reported_inside_the_answer_is_seen_however_it_is_split(string response)
    {
        var bytes = Encoding.UTF8.GetBytes(ChatStream[..^"data: [DONE]\n\n".Length] + response);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var scanner = new ResponseTextScanner();
            scanner.Feed(bytes.AsSpan(0, split));
            scanner.Feed(bytes.AsSpan(split));

            Assert.True(scanner.SawError, $"split at {split}");
        }
    }

    [Fact]
    public void Error_shaped_text_inside_a_string_is_text_not_an_error()
    {
        var scanner = new ResponseTextScanner();

        scanner.Feed(Encoding.UTF8.GetBytes("{\"choices\":[{\"message\":{\"content\":\"{\\\"type\\\":\\\"error\\\",\\\"error\\\":{}}\"}}]}"));

        Assert.False(scanner.SawError);
        Assert.True(scanner.TextBytes > 0);
    }
}
