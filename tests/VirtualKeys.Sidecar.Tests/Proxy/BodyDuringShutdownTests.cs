using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
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
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        using var content = new TwoPartContent(bytes);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var reads = BodyReads.Observe(sidecar, path);
        using var within = TestSidecar.Within(TimeSpan.FromSeconds(20));

        var sending = sidecar.Client.SendAsync(request, Cancel);

        // The sidecar holds the whole first part and waits for the rest ...
        await reads.WaitForAsync(r => r.Length >= bytes.Length / 2 && !r.IsCompleted, within.Token);
        var stopping = sidecar.Host.StopAsync(Cancel);

        // ... when Kestrel's shutdown cancels that pending read: the body is still arriving as the sidecar stops.
        var cancelled = await reads.WaitForAsync(r => r.IsCanceled, within.Token);
        content.SendTheRest();

        using var response = await sending;
        var text = await response.Content.ReadAsStringAsync(Cancel);
        await stopping;

        // The cancelled read came with part of the body in hand: the case a reader can take for the end.
        Assert.InRange(cancelled.Length, 1, bytes.Length - 1);
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
        private readonly TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TwoPartContent(byte[] bytes)
        {
            _bytes = bytes;
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        public void SendTheRest() => _rest.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var half = _bytes.Length / 2;
            await stream.WriteAsync(_bytes.AsMemory(0, half));
            await stream.FlushAsync();
            await _rest.Task;
            await stream.WriteAsync(_bytes.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }

    /// <summary>One read of the request body as the sidecar saw it: what it held, and how the read ended.</summary>
    private readonly record struct BodyRead(long Length, bool IsCanceled, bool IsCompleted);

    /// <summary>
    /// Every read the sidecar makes of one request's body, seen through ASP.NET Core's own diagnostic
    /// event for an incoming request (on this sidecar's DiagnosticListener only), which hands over the
    /// request before any middleware runs: its body reader is wrapped in one that passes every call
    /// through unchanged and reports each result.
    /// </summary>
    private sealed class BodyReads : IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        private const string RequestStarting = "Microsoft.AspNetCore.Hosting.HttpRequestIn.Start";

        private readonly string _path;
        private readonly Channel<BodyRead> _reads = Channel.CreateUnbounded<BodyRead>();
        private readonly List<BodyRead> _seen = [];
        private IDisposable? _subscription;

        private BodyReads(string path)
        {
            _path = path;
        }

        public static BodyReads Observe(TestSidecar sidecar, string path)
        {
            var observer = new BodyReads(path);
            var diagnostics = sidecar.Host.App.Services.GetRequiredService<DiagnosticListener>();
            observer._subscription = diagnostics.Subscribe(observer, name => name.StartsWith("Microsoft.AspNetCore.Hosting.HttpRequestIn", StringComparison.Ordinal));
            return observer;
        }

        /// <summary>The first read, in order, that <paramref name="match"/> accepts; waits for more reads until it comes.</summary>
        public async Task<BodyRead> WaitForAsync(Func<BodyRead, bool> match, CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    var read = await _reads.Reader.ReadAsync(cancellationToken);
                    _seen.Add(read);
                    if (match(read))
                    {
                        return read;
                    }
                }
            }
            catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"The sidecar's reads of the body never came to the awaited one; it read: [{string.Join(", ", _seen)}]");
            }
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value.Key == RequestStarting && value.Value is HttpContext context && context.Request.Path == _path)
            {
                var original = context.Features.GetRequiredFeature<IRequestBodyPipeFeature>();
                context.Features.Set<IRequestBodyPipeFeature>(new ObservedBody(new ObservedReader(original.Reader, this)));
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose()
        {
            _subscription?.Dispose();
            _reads.Writer.TryComplete();
        }

        private void Seen(ReadResult result) =>
            _reads.Writer.TryWrite(new BodyRead(result.Buffer.Length, result.IsCanceled, result.IsCompleted));

        private sealed class ObservedBody(PipeReader reader) : IRequestBodyPipeFeature
        {
            public PipeReader Reader { get; } = reader;
        }

        private sealed class ObservedReader(PipeReader inner, BodyReads reads) : PipeReader
        {
            public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

            public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

            public override void CancelPendingRead() => inner.CancelPendingRead();

            public override void Complete(Exception? exception = null) => inner.Complete(exception);

            public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

            public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
            {
                var result = await inner.ReadAsync(cancellationToken);
                reads.Seen(result);
                return result;
            }

            public override bool TryRead(out ReadResult result)
            {
                if (!inner.TryRead(out result))
                {
                    return false;
                }

                reads.Seen(result);
                return true;
            }
        }
    }
}
