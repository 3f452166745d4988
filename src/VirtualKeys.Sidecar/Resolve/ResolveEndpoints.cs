using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using VirtualKeys.Sidecar.Errors;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Serialization;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary><c>POST /v1/resolve</c> and <c>POST /v1/usage</c>: the API routers call around each LLM request.</summary>
internal sealed class ResolveEndpoints
{
    private const int MaxProviderNameLength = 63;

    private readonly KeyResolver _resolver;
    private readonly DecisionRegistry _decisions;
    private readonly SidecarMetrics _metrics;
    private readonly SidecarOptions _options;

    public ResolveEndpoints(KeyResolver resolver, DecisionRegistry decisions, SidecarMetrics metrics, SidecarOptions options)
    {
        _resolver = resolver;
        _decisions = decisions;
        _metrics = metrics;
        _options = options;
    }

    public async Task ResolveAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var (request, refusal) = await ReadAsync(context, SidecarJsonContext.Default.ResolveRequest);
        if (request is null)
        {
            await RefuseAsync(context, refusal);
            return;
        }

        if ((Negative(request.EstimatedInputTokens, "estimatedInputTokens") ?? Negative(request.MaxOutputTokens, "maxOutputTokens")) is { } invalid)
        {
            await RefuseAsync(context, invalid);
            return;
        }

        var token = request.VirtualKey is { Length: > 0 } inBody ? inBody.AsMemory() : ProxyHandler.PresentedKey(context.Request.Headers);
        var result = await _resolver.ResolveAsync(
            token,
            request.Model,
            request.EstimatedInputTokens ?? 0,
            request.MaxOutputTokens ?? _options.DefaultMaxOutputTokens,
            proxyRoute: null,
            "/v1/resolve",
            context.RequestAborted);

        if (result.Decision is not { } decision)
        {
            await JsonResponses.WriteErrorAsync(context, result.Refusal);
            return;
        }

        _decisions.Add(decision);
        var candidates = decision.Candidates;
        ProviderInfo[] fallbacks = candidates.Length == 1 ? [] : new ProviderInfo[candidates.Length - 1];
        for (var i = 1; i < candidates.Length; i++)
        {
            fallbacks[i - 1] = candidates[i].GetInfo(decision.Model);
        }

        var response = new ResolveResponse
        {
            DecisionId = decision.Id,
            Key = decision.Key.Info,
            Model = decision.Model,
            Provider = candidates[0].GetInfo(decision.Model),
            Fallbacks = fallbacks,
            ExpiresAt = decision.ExpiresAt,
        };
        await JsonResponses.WriteAsync(context.Response, StatusCodes.Status200OK, response, SidecarJsonContext.Default.ResolveResponse);
        _metrics.ResolveDuration(Stopwatch.GetElapsedTime(started));
    }

    public async Task ReportUsageAsync(HttpContext context)
    {
        var (report, refusal) = await ReadAsync(context, SidecarJsonContext.Default.UsageReport);
        if (report is null)
        {
            await RefuseAsync(context, refusal);
            return;
        }

        if (string.IsNullOrEmpty(report.DecisionId))
        {
            await RefuseAsync(context, Refusals.MissingField("decisionId"));
            return;
        }

        if ((Negative(report.InputTokens, "inputTokens") ?? Negative(report.OutputTokens, "outputTokens")
            ?? Negative(report.CachedInputTokens, "cachedInputTokens") ?? Negative(report.CacheWriteInputTokens, "cacheWriteInputTokens")
            ?? Negative(report.CacheWriteOneHourInputTokens, "cacheWriteOneHourInputTokens")
            ?? CacheBeyondInput(report) ?? OneHourBeyondWrites(report) ?? NegativeLatency(report.LatencyMs) ?? InvalidProvider(report.Provider)) is { } invalid)
        {
            await RefuseAsync(context, invalid);
            return;
        }

        var status = report.Status ?? new UsageReportStatus(true, "success");
        var result = await _decisions.ReportAsync(report.DecisionId, new UsageRecorder.Completion(
            report.InputTokens ?? 0,
            report.OutputTokens ?? 0,
            status.Succeeded ? UsageOutcome.Success : UsageOutcome.UpstreamError,
            status.Detail,
            report.Provider,
            report.LatencyMs)
        {
            CachedInputTokens = report.CachedInputTokens ?? 0,
            CacheWriteInputTokens = report.CacheWriteInputTokens ?? 0,
            CacheWriteOneHourInputTokens = report.CacheWriteOneHourInputTokens ?? 0,
        });

        switch (result.Status)
        {
            case DecisionRegistry.ReportStatus.Unknown:
                await RefuseAsync(context, Refusals.DecisionNotFound);
                break;
            default:
                await JsonResponses.WriteAsync(context.Response, StatusCodes.Status200OK, new UsageReportResponse
                {
                    DecisionId = report.DecisionId,
                    Status = result.Status == DecisionRegistry.ReportStatus.Recorded ? "recorded" : "already_settled",
                    CostUsd = result.CostUsd,
                }, SidecarJsonContext.Default.UsageReportResponse);
                break;
        }
    }

    private static Refusal? Negative(long? value, string param) => value switch
    {
        < 0 => Refusals.InvalidValue(param, $"'{param}' must not be negative."),
        > TokenCounts.Max => Refusals.InvalidValue(param, $"'{param}' is implausibly large."),
        _ => null,
    };

    // Provider names are DNS-1123 labels. The value lands in the usage rows: a NUL there is refused by
    // PostgreSQL and would hold up every usage write behind it.
    private static Refusal? InvalidProvider(string? provider) =>
        provider is { } name && (name.Length > MaxProviderNameLength || name.AsSpan().ContainsAny(KeyResolver.ControlCharacters))
            ? Refusals.InvalidValue("provider", $"'provider' must be a provider name of the key: at most {MaxProviderNameLength} characters, no control characters.")
            : null;

    // The cache's figures are parts of inputTokens. Anthropic reports them beside its input_tokens, so a
    // router that passes its input_tokens alone would be charged for less than was read: refused, not
    // quietly cut down to fit.
    private static Refusal? CacheBeyondInput(UsageReport report) =>
        (report.CachedInputTokens ?? 0) + (report.CacheWriteInputTokens ?? 0) > (report.InputTokens ?? 0)
            ? Refusals.InvalidValue("cachedInputTokens", "'cachedInputTokens' and 'cacheWriteInputTokens' are parts of 'inputTokens', which must count them too (with Anthropic: input_tokens plus cache_read_input_tokens plus cache_creation_input_tokens).")
            : null;

    // Anthropic's cache_creation_input_tokens count the writes kept for an hour too: a router that
    // reports only those kept for five minutes as cacheWriteInputTokens would be charged for less.
    private static Refusal? OneHourBeyondWrites(UsageReport report) =>
        (report.CacheWriteOneHourInputTokens ?? 0) > (report.CacheWriteInputTokens ?? 0)
            ? Refusals.InvalidValue("cacheWriteOneHourInputTokens", "'cacheWriteOneHourInputTokens' is a part of 'cacheWriteInputTokens', which must count it too (with Anthropic: cache_creation_input_tokens, ephemeral_5m_input_tokens plus ephemeral_1h_input_tokens).")
            : null;

    private static Refusal? NegativeLatency(double? value) =>
        value is < 0 || (value is { } v && !double.IsFinite(v)) ? Refusals.InvalidValue("latencyMs", "'latencyMs' must be a non-negative number.") : null;

    private async ValueTask<(T? Value, Refusal Refusal)> ReadAsync<T>(HttpContext context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        if (!RequestBody.IsJson(context.Request))
        {
            return (null, Refusals.UnsupportedMediaType);
        }

        var read = await RequestBody.ReadAsync(context.Request, _options.MaxApiBodyBytes, context.RequestAborted);
        if (read is not { } body)
        {
            return (null, Refusals.TooLarge(_options.MaxApiBodyBytes));
        }

        try
        {
            if (body.Length == 0)
            {
                return (null, Refusals.EmptyBody);
            }

            var value = JsonSerializer.Deserialize(body.Span, typeInfo);
            return value is null ? (null, Refusals.NotAnObject) : (value, default);
        }
        catch (JsonException ex)
        {
            return (null, Refusals.InvalidJson(ex.Path is { Length: > 0 and < 80 } path && IsOwnProperty(path, typeInfo)
                ? $"malformed, or a value of the wrong type at {path}."
                : "malformed JSON."));
        }
        finally
        {
            body.Dispose();
        }
    }

    /// <summary>
    /// Whether an error path is under one of the endpoint's own properties: the names of others are
    /// the client's text, which may be anything (a key pasted as a property name), and are not echoed.
    /// </summary>
    private static bool IsOwnProperty(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo typeInfo)
    {
        if (!path.StartsWith("$.", StringComparison.Ordinal))
        {
            return false;
        }

        var name = path.AsSpan(2);
        var end = name.IndexOfAny('.', '[');
        if (end >= 0)
        {
            name = name[..end];
        }

        foreach (var property in typeInfo.Properties)
        {
            if (name.SequenceEqual(property.Name))
            {
                return true;
            }
        }

        return false;
    }

    private Task RefuseAsync(HttpContext context, Refusal refusal)
    {
        _metrics.Rejected(null, refusal.Code);
        return JsonResponses.WriteErrorAsync(context, refusal);
    }
}
