using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using VirtualKeys.Sidecar.Errors;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Resolve;
using VirtualKeys.Sidecar.Serialization;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// OpenAI- and Anthropic-compatible proxy: any SDK pointed at the sidecar with a virtual key gets the
/// key's default model, aliases, allowlist, limits and metering, and its providers in failover order.
/// </summary>
/// <remarks>
/// Failover before the first byte: the body is read once (it must be, to check and rewrite the model)
/// and sent as it is to each provider in turn, and <see cref="ProxyAttempt"/> declines to relay a
/// failed response so the client has seen nothing when the next provider is tried. The forwarding is
/// done here rather than by a general reverse proxy: one POST of a buffered JSON body and a relayed
/// answer is all it takes, and a general proxy's streamed request body, telemetry and transforms
/// cost more CPU per request than the rest of the sidecar.
/// </remarks>
internal sealed partial class ProxyHandler
{
    /// <summary>
    /// The input estimate for one base64 image or file in a request: Anthropic counts an image as about
    /// width × height / 750 tokens and scales larger ones down to about 1,600; OpenAI's high-detail
    /// images cost up to about 1,100. Usage settles at what the provider reports.
    /// </summary>
    private const long TokensPerEmbeddedFile = 1_600;

    private readonly KeyResolver _resolver;
    private readonly UsageRecorder _recorder;
    private readonly UpstreamClient _upstream;
    private readonly SidecarMetrics _metrics;
    private readonly SidecarOptions _options;
    private readonly ILogger<ProxyHandler> _logger;

    public ProxyHandler(
        KeyResolver resolver,
        UsageRecorder recorder,
        UpstreamClient upstream,
        SidecarMetrics metrics,
        SidecarOptions options,
        ILogger<ProxyHandler> logger)
    {
        _resolver = resolver;
        _recorder = recorder;
        _upstream = upstream;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public RequestDelegate For(ProxyRoute route) => context => HandleAsync(context, route);

    /// <summary>The key from <c>Authorization: Bearer</c> (OpenAI SDKs) or <c>x-api-key</c> (Anthropic SDKs).</summary>
    internal static ReadOnlyMemory<char> PresentedKey(IHeaderDictionary headers)
    {
        var authorization = headers.Authorization.ToString();
        if (authorization.Length > 7 && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization.AsMemory(7).Trim();
        }

        return headers["x-api-key"].ToString().AsMemory().Trim();
    }

    private async Task HandleAsync(HttpContext context, ProxyRoute route)
    {
        var anthropic = route.Family == ApiFamily.Anthropic;
        if (!RequestBody.IsJson(context.Request))
        {
            await RefuseAsync(context, Refusals.UnsupportedMediaType, anthropic);
            return;
        }

        var read = await RequestBody.ReadAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted);
        if (read is not { } body)
        {
            await RefuseAsync(context, Refusals.TooLarge(_options.MaxRequestBodyBytes), anthropic);
            return;
        }

        try
        {
            if (body.Length == 0)
            {
                await RefuseAsync(context, Refusals.EmptyBody, anthropic);
                return;
            }

            var info = ProxyRequestInspector.Inspect(body.Span);
            if (info.Error is { } error)
            {
                await RefuseAsync(context, Refusals.InvalidJson(error), anthropic);
                return;
            }

            // Rough input estimate for admission: about four bytes of JSON per token, and a fixed
            // count for each base64 file, which providers price by its pixels, not its bytes.
            var estimatedInput = ((body.Length - info.EmbeddedBytes + 3) / 4) + (info.EmbeddedItems * TokensPerEmbeddedFile);
            var maxOutput = route.ProducesOutput ? info.MaxOutputTokens ?? _options.DefaultMaxOutputTokens : 0;
            var resolved = await _resolver.ResolveAsync(
                PresentedKey(context.Request.Headers), info.Model, estimatedInput, maxOutput, route, route.Path, context.RequestAborted);
            if (resolved.Decision is not { } decision)
            {
                await JsonResponses.WriteErrorAsync(context, resolved.Refusal, anthropic);
                return;
            }

            byte[]? rewritten = null;
            try
            {
                var addStreamUsage = _options.RequestStreamUsage && route.AcceptsStreamOptions && info.Stream && info.CanAddStreamUsage;
                rewritten = ProxyBodyRewriter.Rewrite(body.Span, info, decision.Model, addStreamUsage, out var length);
                var payload = rewritten is null ? body.Memory : rewritten.AsMemory(0, length);
                await ForwardAsync(context, route, decision, payload, anthropic, firstUsageIsPreliminary: anthropic && info.Stream);
            }
            finally
            {
                if (rewritten is not null)
                {
                    ArrayPool<byte>.Shared.Return(rewritten);
                }

                // Forwarding settles the decision; this only catches a failure before it could.
                if (decision.TryClaim())
                {
                    await _recorder.SettleAsync(decision, new UsageRecorder.Completion(0, 0, UsageOutcome.UpstreamError, "sidecar_error"));
                }
            }
        }
        finally
        {
            body.Dispose();
        }
    }

    private async Task ForwardAsync(HttpContext context, ProxyRoute route, Decision decision, ReadOnlyMemory<byte> payload, bool anthropic, bool firstUsageIsPreliminary)
    {
        var scanner = new UsageScanner(firstUsageIsPreliminary);
        var attempt = new ProxyAttempt(_upstream.Invoker, _options.UpstreamTimeout, scanner);
        var started = Stopwatch.GetTimestamp();
        var outcome = UsageOutcome.UpstreamError;
        string? detail = null;
        string? providerUsed = null;
        Refusal? failure = null;
        MemoryMarshal.TryGetArray(payload, out var segment);

        try
        {
            var candidates = decision.Candidates;
            for (var i = 0; i < candidates.Length; i++)
            {
                var provider = candidates[i];
                providerUsed = provider.Name;
                var attemptStarted = Stopwatch.GetTimestamp();
                await attempt.SendAsync(context, provider, provider.GetUpstreamUri(route, decision.Model), segment);
                var elapsed = Stopwatch.GetElapsedTime(attemptStarted);

                if (attempt.Result == AttemptResult.Forwarded)
                {
                    var status = attempt.UpstreamStatus;
                    detail = StatusDetail(status);
                    _metrics.UpstreamDuration(provider.TypeName, StatusClass(status), elapsed);
                    // An error event inside a 2xx stream (Anthropic's overloaded_error, say): the answer
                    // ended, but not as an answer.
                    var streamError = attempt.Completed && status is >= 200 and < 300 && scanner.SawError;
                    if (streamError)
                    {
                        detail = "stream_error";
                    }

                    outcome = attempt.Completed
                        ? status is >= 200 and < 300 && !streamError ? UsageOutcome.Success : UsageOutcome.UpstreamError
                        : context.RequestAborted.IsCancellationRequested ? UsageOutcome.Cancelled : UsageOutcome.UpstreamError;

                    failure = null;
                    if (!attempt.Completed && !context.RequestAborted.IsCancellationRequested)
                    {
                        // The provider failed inside a body the client has begun to receive: it must not
                        // mistake the rest for a complete answer, so its connection is cut.
                        context.Abort();
                    }

                    break;
                }

                if (context.RequestAborted.IsCancellationRequested)
                {
                    outcome = UsageOutcome.Cancelled;
                    detail = "client_closed";
                    failure = null;
                    break;
                }

                var (refusal, reason) = Failure(provider, attempt);
                _metrics.UpstreamDuration(provider.TypeName, attempt.UpstreamStatus == 0 ? "error" : StatusClass(attempt.UpstreamStatus), elapsed);
                Log.AttemptFailed(_logger, provider.Name, provider.TypeName, decision.Key.DisplayName, reason, i < candidates.Length - 1);
                if (i < candidates.Length - 1)
                {
                    _metrics.Failover(provider.TypeName, reason);
                }

                failure = refusal;
                detail = reason;
            }

            if (failure is { } final && !context.Response.HasStarted)
            {
                await JsonResponses.WriteErrorAsync(context, final, anthropic);
            }
        }
        finally
        {
            if (decision.TryClaim())
            {
                await _recorder.SettleAsync(decision, Completion(decision, scanner, outcome, detail, providerUsed, attempt, Stopwatch.GetElapsedTime(started)));
            }
        }
    }

    private static string StatusDetail(int status) => status switch
    {
        200 => "200",
        201 => "201",
        400 => "400",
        404 => "404",
        _ => status.ToString(CultureInfo.InvariantCulture),
    };

    private static (Refusal Refusal, string Reason) Failure(ServingProvider provider, ProxyAttempt attempt) => attempt.Result switch
    {
        AttemptResult.Retryable when attempt.UpstreamStatus == StatusCodes.Status429TooManyRequests =>
            (Refusals.UpstreamRateLimited(provider.Name, provider.TypeName, attempt.RetryAfter), "upstream_429"),
        AttemptResult.Retryable =>
            (Refusals.UpstreamFailed(provider.Name, provider.TypeName, attempt.UpstreamStatus), "upstream_5xx"),
        AttemptResult.CredentialRejected =>
            (Refusals.UpstreamRejectedCredential(provider.Name, provider.TypeName, attempt.UpstreamStatus), "credential_rejected"),
        _ when attempt.TimedOut =>
            (Refusals.UpstreamTimeout(provider.Name, provider.TypeName), "timeout"),
        _ => (Refusals.UpstreamUnreachable(provider.Name, provider.TypeName), "unreachable"),
    };

    /// <summary>
    /// Usage as the provider reported it for a response relayed to its end. A successful (2xx) body that
    /// carried no report, that broke off or was abandoned by the client part-way, or that reported an
    /// error inside it, is counted as the provider's report where it has one and at least the input
    /// estimate and the output relayed so far (about four bytes of generated text a token, the JSON and
    /// SSE around it not counted, at most the reserved output): a stream cut short is charged by the
    /// provider all the same, and its early counts (Anthropic's message_start says one output token) are
    /// not its final ones. A client that goes away before a byte reached it, once the provider had the
    /// whole request, is charged the input estimate: the provider goes on with a request it received,
    /// unless it had already refused it (an error status: no tokens, as for any error answer). So is
    /// a last attempt that timed out waiting for its answer: the provider had begun on it.
    /// </summary>
    private static UsageRecorder.Completion Completion(
        Decision decision, UsageScanner scanner, UsageOutcome outcome, string? detail, string? provider, ProxyAttempt attempt, TimeSpan elapsed)
    {
        var requestSent = attempt.RequestSent;
        var upstreamStatus = attempt.UpstreamStatus;
        var latency = elapsed.TotalMilliseconds;
        if (scanner.SawUsage && outcome == UsageOutcome.Success)
        {
            return new UsageRecorder.Completion(scanner.InputTokens ?? 0, scanner.OutputTokens ?? 0, outcome, detail, provider, latency)
            {
                CachedInputTokens = scanner.CachedInputTokens,
                CacheWriteInputTokens = scanner.CacheWriteInputTokens,
                CacheWriteOneHourInputTokens = scanner.CacheWriteOneHourInputTokens,
            };
        }

        // Only a 2xx body is scanned, so bytes seen are output the client was sent.
        if (scanner.BytesSeen > 0)
        {
            var relayed = Math.Min(decision.MaxOutputTokens, (scanner.TextBytes + 3) / 4);
            var input = scanner.InputTokens ?? decision.EstimatedInputTokens;
            var output = Math.Max(scanner.OutputTokens ?? 0, relayed);
            return new UsageRecorder.Completion(input, output, outcome, detail, provider, latency, Estimated: true)
            {
                CachedInputTokens = scanner.CachedInputTokens,
                CacheWriteInputTokens = scanner.CacheWriteInputTokens,
                CacheWriteOneHourInputTokens = scanner.CacheWriteOneHourInputTokens,
            };
        }

        if ((outcome == UsageOutcome.Cancelled || attempt.TimedOut) && requestSent && upstreamStatus is 0 or (>= 200 and < 300))
        {
            return new UsageRecorder.Completion(decision.EstimatedInputTokens, 0, outcome, detail, provider, latency, Estimated: true);
        }

        return new UsageRecorder.Completion(0, 0, outcome, detail, provider, latency);
    }

    private static string StatusClass(int status) => status switch
    {
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };

    private Task RefuseAsync(HttpContext context, Refusal refusal, bool anthropic)
    {
        _metrics.Rejected(null, refusal.Code);
        return JsonResponses.WriteErrorAsync(context, refusal, anthropic);
    }

    private static partial class Log
    {
        [LoggerMessage(40, LogLevel.Warning, "Provider {Provider} ({ProviderType}) failed for key {Key}: {Reason}; trying the next provider: {FailingOver}")]
        public static partial void AttemptFailed(ILogger logger, string provider, string providerType, string key, string reason, bool failingOver);
    }
}
