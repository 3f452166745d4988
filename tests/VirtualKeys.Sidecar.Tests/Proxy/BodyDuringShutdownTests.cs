using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Proxy;

/// <summary>
/// A request whose body is still on its way when the sidecar is told to stop (a pod's SIGTERM) is an
/// in-flight request: it is read whole and served, not judged on the part that had arrived.
/// </summary>
public sealed class BodyDuringShutdownTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/resolve")]
    public async Task A_body_still_arriving_when_the_sidecar_stops_is_read_whole(string path)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        var prompt = string.Join(' ', Enumerable.Repeat("word", 2000));
        var body = path == "/v1/resolve"
            ? new JsonObject { ["virtualKey"] = token, ["model"] = "gpt-4o-mini", ["estimatedInputTokens"] = 10, ["note"] = prompt }
            : new JsonObject { ["model"] = "gpt-4o-mini", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }) };
        using var content = new TwoPartContent(Encoding.UTF8.GetBytes(body.ToJsonString()));
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var sending = sidecar.Client.SendAsync(request, Cancel);
        await content.FirstPartSent.WaitAsync(TimeSpan.FromSeconds(10), Cancel);

        // Let the sidecar read the first part, then stop it while the rest is still to come.
        await Task.Delay(TimeSpan.FromMilliseconds(300), Cancel);
        var stopping = sidecar.Host.StopAsync(Cancel);
        await Task.Delay(TimeSpan.FromMilliseconds(300), Cancel);
        content.SendTheRest();

        using var response = await sending;
        var text = await response.Content.ReadAsStringAsync(Cancel);
        await stopping;

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        if (path == "/v1/chat/completions")
        {
            // The mock provider counts the prompt's words: the provider saw the whole prompt.
            Assert.Equal(2000, JsonNode.Parse(text)!["usage"]!["prompt_tokens"]!.GetValue<long>());
            var record = Assert.Single(sidecar.Usage.Records);
            Assert.Equal(UsageOutcome.Success, record.Outcome);
            Assert.Equal(2000, record.InputTokens);
        }
        else
        {
            Assert.NotNull(JsonNode.Parse(text)!["decisionId"]);
        }
    }

    /// <summary>Sends its first half, then waits for <see cref="SendTheRest"/>; its length is known up front, as an SDK's is.</summary>
    private sealed class TwoPartContent : HttpContent
    {
        private readonly byte[] _bytes;
        private readonly TaskCompletionSource _firstPartSent = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TwoPartContent(byte[] bytes)
        {
            _bytes = bytes;
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        public Task FirstPartSent => _firstPartSent.Task;

        public void SendTheRest() => _rest.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var half = _bytes.Length / 2;
            await stream.WriteAsync(_bytes.AsMemory(0, half));
            await stream.FlushAsync();
            _firstPartSent.TrySetResult();
            await _rest.Task;
            await stream.WriteAsync(_bytes.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}
