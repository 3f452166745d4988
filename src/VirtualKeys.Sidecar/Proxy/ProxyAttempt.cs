using System.Buffers;
using System.Collections.Frozen;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Sends one proxied request to one provider and, when its answer should reach the client, relays it.
/// The client's credentials are swapped for the provider's. Every response that should fail over
/// (429, 5xx, 401/403, a body that breaks off before its first byte) is held back, so the client has
/// seen nothing when the next provider is tried.
/// </summary>
/// <remarks>
/// The body goes out as one buffer with a Content-Length, so headers and body leave in one write
/// (a streamed body costs the provider a second read per request). The response is copied as it
/// arrives, chunk by chunk, and a 2xx body passes the <see cref="UsageScanner"/> on the way.
/// </remarks>
internal sealed class ProxyAttempt
{
    /// <summary>Client credentials and caller-account headers never reach the provider; hop-by-hop headers are per connection.</summary>
    private static readonly FrozenSet<string> DroppedRequestHeaders = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Authorization", "x-api-key", "api-key", "x-goog-api-key", "Proxy-Authorization", "Cookie",
        "OpenAI-Organization", "OpenAI-Project",
        "Host", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Expect",
        "Accept-Encoding", "Content-Length");

    /// <summary>
    /// Hop-by-hop headers, and headers that would tell the client about the provider account behind
    /// its virtual key.
    /// </summary>
    private static readonly FrozenSet<string> DroppedResponseHeaders = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Alt-Svc", "Proxy-Authenticate",
        "openai-organization", "openai-project", "anthropic-organization-id", "Set-Cookie");

    /// <summary>Large enough for a whole ordinary JSON answer; a stream is relayed read by read.</summary>
    private const int CopyBufferSize = 16 * 1024;

    private readonly HttpMessageInvoker _invoker;
    private readonly TimeSpan _timeout;
    private readonly UsageScanner _scanner;

    public ProxyAttempt(HttpMessageInvoker invoker, TimeSpan timeout, UsageScanner scanner)
    {
        _invoker = invoker;
        _timeout = timeout;
        _scanner = scanner;
    }

    public AttemptResult Result { get; private set; }

    public int UpstreamStatus { get; private set; }

    public TimeSpan? RetryAfter { get; private set; }

    /// <summary>The provider fell silent for longer than the upstream timeout (before its headers, or inside its body).</summary>
    public bool TimedOut { get; private set; }

    /// <summary>A forwarded response was relayed to its end.</summary>
    public bool Completed { get; private set; }

    /// <summary>The whole request body was written to the provider's connection: from then on the provider may charge for it.</summary>
    public bool RequestSent => _content?.Sent ?? false;

    private SentContent? _content;

    public async Task SendAsync(HttpContext context, ServingProvider provider, Uri target, ArraySegment<byte> payload)
    {
        Result = AttemptResult.NoResponse;
        UpstreamStatus = 0;
        RetryAfter = null;
        TimedOut = false;
        Completed = false;

        using var request = CreateRequest(context.Request.Headers, provider, target, payload);
        _content = (SentContent)request.Content!;

        // One source for the client going away and for the provider's silence; the timer restarts
        // before each read of the body.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        cancel.CancelAfter(_timeout);
        HttpResponseMessage response;
        try
        {
            response = await _invoker.SendAsync(request, cancel.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            TimedOut = cancel.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
            return;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            UpstreamStatus = status;
            if (status == StatusCodes.Status429TooManyRequests || status >= 500)
            {
                Result = AttemptResult.Retryable;
                RetryAfter = response.Headers.RetryAfter switch
                {
                    { Delta: { } delta } => delta,
                    { Date: { } date } => date - DateTimeOffset.UtcNow,
                    _ => null,
                };
                return;
            }

            if (status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
            {
                Result = AttemptResult.CredentialRejected;
                return;
            }

            Result = AttemptResult.Forwarded;
            CopyHead(context.Response, response, status);
            Completed = await CopyBodyAsync(context, response.Content, scan: status is >= 200 and < 300, cancel);
            if (!Completed && !context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                // The body broke off before a byte of it reached the client (the first write starts the
                // response): to the client this provider never answered, so the next one may.
                context.Response.Clear();
                Result = AttemptResult.NoResponse;
                UpstreamStatus = 0;
            }
        }
    }

    private static HttpRequestMessage CreateRequest(IHeaderDictionary headers, ServingProvider provider, Uri target, ArraySegment<byte> payload)
    {
        var content = new SentContent(payload.Array!, payload.Offset, payload.Count);
        var request = new HttpRequestMessage(HttpMethod.Post, target)
        {
            // HTTP/2 where TLS negotiates it, HTTP/1.1 otherwise (and always for plain http).
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Content = content,
        };

        var anthropicVersionSent = false;
        foreach (var (name, value) in headers)
        {
            if (DroppedRequestHeaders.Contains(name))
            {
                continue;
            }

            anthropicVersionSent |= name.Equals("anthropic-version", StringComparison.OrdinalIgnoreCase);
            if (value.Count == 1)
            {
                var single = value.ToString();
                if (!request.Headers.TryAddWithoutValidation(name, single))
                {
                    content.Headers.TryAddWithoutValidation(name, single);
                }
            }
            else if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value))
            {
                content.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value);
            }
        }

        request.Headers.TryAddWithoutValidation(provider.AuthHeaderName, provider.AuthHeaderValue);
        if (provider.Type == ProviderType.Anthropic && !anthropicVersionSent)
        {
            request.Headers.TryAddWithoutValidation("anthropic-version", ServingProvider.DefaultAnthropicVersion);
        }

        return request;
    }

    private static void CopyHead(HttpResponse response, HttpResponseMessage upstream, int status)
    {
        response.StatusCode = status;
        var headers = response.Headers;
        Copy(headers, upstream.Headers.NonValidated);
        Copy(headers, upstream.Content.Headers.NonValidated);

        static void Copy(IHeaderDictionary into, HttpHeadersNonValidated from)
        {
            foreach (var (name, values) in from)
            {
                if (DroppedResponseHeaders.Contains(name))
                {
                    continue;
                }

                try
                {
                    into[name] = values.Count == 1 ? new StringValues(values.ToString()) : new StringValues([.. values]);
                }
                catch (InvalidOperationException)
                {
                    // A value Kestrel will not write even as Latin-1 (a control character): the answer
                    // goes on without that header rather than failing as a whole.
                }
            }
        }
    }

    /// <returns>True when the whole body reached the client.</returns>
    private async Task<bool> CopyBodyAsync(HttpContext context, HttpContent content, bool scan, CancellationTokenSource cancel)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var source = await content.ReadAsStreamAsync(cancel.Token);
            var client = context.Response.Body;
            while (true)
            {
                int read;
                try
                {
                    cancel.CancelAfter(_timeout);
                    read = await source.ReadAsync(buffer, cancel.Token);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or HttpRequestException)
                {
                    TimedOut = cancel.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
                    return false;
                }

                if (read == 0)
                {
                    return true;
                }

                if (scan)
                {
                    _scanner.Feed(buffer.AsSpan(0, read));
                }

                try
                {
                    // The provider's silence is timed, not the client's reading: the timer stops
                    // while a slow client takes its time, and starts again at the next read.
                    cancel.CancelAfter(Timeout.InfiniteTimeSpan);

                    // Kestrel sends each write at once: stream events reach the client as they come.
                    await client.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                    return false;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or HttpRequestException)
        {
            TimedOut = cancel.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The request body, remembering whether it was written out whole.</summary>
    private sealed class SentContent(byte[] content, int offset, int count) : ByteArrayContent(content, offset, count)
    {
        private volatile bool _sent;

        public bool Sent => _sent;

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await base.SerializeToStreamAsync(stream, context, cancellationToken);
            _sent = true;
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await base.SerializeToStreamAsync(stream, context);
            _sent = true;
        }

        protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            base.SerializeToStream(stream, context, cancellationToken);
            _sent = true;
        }
    }
}
