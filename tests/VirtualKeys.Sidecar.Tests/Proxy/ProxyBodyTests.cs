using System.Text;
using System.Text.Json.Nodes;
using VirtualKeys.Sidecar.Proxy;

namespace VirtualKeys.Sidecar.Tests.Proxy;

public sealed class ProxyBodyTests
{
    [Theory]
    [InlineData("{\"model\":\"fast\",\"messages\":[]}", "gpt-4o", false, "{\"model\":\"gpt-4o\",\"messages\":[]}")]
    [InlineData("{\"messages\":[],\"model\":null}", "gpt-4o", false, "{\"messages\":[],\"model\":\"gpt-4o\"}")]
    [InlineData("{\"messages\":[]}", "gpt-4o", false, "{\"model\":\"gpt-4o\",\"messages\":[]}")]
    [InlineData("{}", "gpt-4o", false, "{\"model\":\"gpt-4o\"}")]
    [InlineData(" { } ", "m\"x", false, " {\"model\":\"m\\u0022x\" } ")]
    [InlineData("{\"model\":\"gpt-4o\",\"stream\":true}", "gpt-4o", true, "{\"stream_options\":{\"include_usage\":true},\"model\":\"gpt-4o\",\"stream\":true}")]
    [InlineData("{\"stream\":true}", "gpt-4o", true, "{\"model\":\"gpt-4o\",\"stream_options\":{\"include_usage\":true},\"stream\":true}")]
    [InlineData("{\"model\":\"fast\",\"stream\":true,\"stream_options\":null}", "gpt-4o", true, "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}")]
    [InlineData("{\"stream_options\": null ,\"stream\":true,\"model\":\"fast\"}", "gpt-4o", true, "{\"stream_options\": {\"include_usage\":true} ,\"stream\":true,\"model\":\"gpt-4o\"}")]
    [InlineData("{\"stream\":true,\"stream_options\":null}", "gpt-4o", true, "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}")]
    [InlineData("{\"model\":\"gpt-4o\",\"stream_options\":null,\"stream\":true}", "gpt-4o", true, "{\"model\":\"gpt-4o\",\"stream_options\":{\"include_usage\":true},\"stream\":true}")]
    [InlineData("{\"stream\":true,\"stream_options\":{\"include_obfuscation\":false}}", "gpt-4o", true, "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true,\"include_obfuscation\":false}}")]
    [InlineData("{\"stream_options\": { } ,\"model\":\"fast\",\"stream\":true}", "gpt-4o", true, "{\"stream_options\": {\"include_usage\":true } ,\"model\":\"gpt-4o\",\"stream\":true}")]
    [InlineData("{\"model\":\"fast\",\"stream_options\":{\"x\":{\"include_usage\":false}},\"stream\":true}", "gpt-4o", true, "{\"model\":\"gpt-4o\",\"stream_options\":{\"include_usage\":true,\"x\":{\"include_usage\":false}},\"stream\":true}")]
    public void The_body_is_rewritten_in_place(string body, string model, bool streamUsage, string expected)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var info = ProxyRequestInspector.Inspect(bytes);

        var rewritten = ProxyBodyRewriter.Rewrite(bytes, info, model, streamUsage, out var length);

        Assert.NotNull(rewritten);
        var text = Encoding.UTF8.GetString(rewritten, 0, length);
        Assert.Equal(expected, text);
        Assert.Equal(model, JsonNode.Parse(text)!["model"]!.GetValue<string>());
    }

    [Fact]
    public void A_body_already_right_is_sent_untouched()
    {
        var bytes = "{\"model\":\"gpt-4o\"}"u8.ToArray();

        Assert.Null(ProxyBodyRewriter.Rewrite(bytes, ProxyRequestInspector.Inspect(bytes), "gpt-4o", false, out _));
    }

    [Theory]
    [InlineData("{\"model\":\"a\",\"stream\":true,\"max_completion_tokens\":300,\"stream_options\":{\"include_usage\":false}}", "a", true, 300L, false)]
    [InlineData("{\"max_tokens\":10,\"nested\":{\"model\":\"ignored\",\"max_tokens\":99999}}", null, false, 10L, true)]
    [InlineData("{\"model\":\"a\",\"stream\":false,\"stream_options\":null}", "a", false, null, true)]
    [InlineData("{\"stream\":true,\"stream_options\":{\"include_obfuscation\":false,\"x\":[1,{\"include_usage\":true}]}}", null, true, null, true)]
    [InlineData("{\"stream\":true,\"stream_options\":\"usage please\"}", null, true, null, false)]
    public void The_inspector_reads_only_top_level_fields(string body, string? model, bool stream, long? maxTokens, bool canAddStreamUsage)
    {
        var info = ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(body));

        Assert.Null(info.Error);
        Assert.Equal((model, stream, maxTokens, canAddStreamUsage), (info.Model, info.Stream, info.MaxOutputTokens, info.CanAddStreamUsage));
    }

    [Fact]
    public void Base64_files_are_counted_apart_from_text_wherever_they_are()
    {
        var image = Convert.ToBase64String(new byte[3000]);
        var escaped = image.Replace("/", "\\/", StringComparison.Ordinal);
        var words = string.Join(' ', Enumerable.Repeat("lorem", 500));
        var openAI = $$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{image}}}"}}]}]}""";
        var anthropic = $$$"""{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"{{{image}}}"}},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"{{{escaped}}}"}}]}],"max_tokens":5}""";
        var text = $$$"""{"messages":[{"role":"user","content":"{{{words}}}"}],"short":"{{{image[..100]}}}"}""";

        var fromOpenAI = ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(openAI));
        var fromAnthropic = ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(anthropic));
        var fromText = ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(text));

        Assert.Equal((1, "data:image/png;base64,".Length + image.Length), (fromOpenAI.EmbeddedItems, (int)fromOpenAI.EmbeddedBytes));
        Assert.Equal("gpt-4o", fromOpenAI.Model);
        Assert.Equal(2, fromAnthropic.EmbeddedItems);
        Assert.True(fromAnthropic.EmbeddedBytes >= 2 * image.Length);
        Assert.Equal(5, fromAnthropic.MaxOutputTokens);
        Assert.Equal((0, 0L), (fromText.EmbeddedItems, fromText.EmbeddedBytes));
    }

    // A PDF is read page by page as text and images, thousands of tokens a page: its base64 counts
    // four bytes a token, not as one image.
    [Fact]
    public void A_base64_PDF_is_counted_by_its_bytes_not_as_one_image()
    {
        var pdf = Convert.ToBase64String([.. "%PDF-1.7\n"u8, .. new byte[30_000]]);
        var anthropic = $$$"""{"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"{{{pdf}}}"}}]}],"max_tokens":5}""";
        var openAI = $$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,{{{pdf}}}"}}]}]}""";

        var fromAnthropic = ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(anthropic));
        var fromOpenAI = ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(openAI));

        Assert.Equal((0, 0L), (fromAnthropic.EmbeddedItems, fromAnthropic.EmbeddedBytes));
        Assert.Equal((0, 0L), (fromOpenAI.EmbeddedItems, fromOpenAI.EmbeddedBytes));
    }

    [Theory]
    [InlineData("{\"model\":\"a\",\"model\":\"b\"}")]
    [InlineData("{\"model\":1}")]
    [InlineData("{\"stream\":\"true\"}")]
    [InlineData("{\"max_tokens\":1.5}")]
    [InlineData("{\"max_tokens\":100000001}")]
    [InlineData("{\"max_completion_tokens\":1000000000000}")]
    [InlineData("[]")]
    [InlineData("{\"model\":\"a\"} trailing")]
    [InlineData("{\"model\":\"a\"")]
    public void The_inspector_rejects_what_it_cannot_act_on_safely(string body)
    {
        Assert.NotNull(ProxyRequestInspector.Inspect(Encoding.UTF8.GetBytes(body)).Error);
    }
}
