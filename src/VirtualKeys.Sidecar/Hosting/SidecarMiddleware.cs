using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using VirtualKeys.Sidecar.Errors;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Serialization;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>
/// The outermost middleware: refuses non-loopback callers (unless allowed), serves only the metrics and
/// probes on the metrics port (to any caller), and turns every failure into
/// a JSON error: bad HTTP input keeps its 4xx, an unknown path or method gets a body, anything
/// unexpected becomes a 500 that names no secret. (One middleware rather than status-code pages and an
/// exception handler: those allocate per request.)
/// </summary>
internal sealed partial class SidecarMiddleware
{
    private readonly RequestDelegate _next;
    private readonly SidecarOptions _options;
    private readonly SidecarMetrics _metrics;
    private readonly ILogger<SidecarMiddleware> _logger;
    private int _metricsPortRequests;

    public SidecarMiddleware(RequestDelegate next, SidecarOptions options, SidecarMetrics metrics, ILogger<SidecarMiddleware> logger)
    {
        _next = next;
        _options = options;
        _metrics = metrics;
        _logger = logger;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        RejectionBodyWriter.AppRequestStarted(context);
        if (OnMetricsPort(context))
        {
            // The metrics port: any caller, but nothing beyond the metrics and the probes.
            if (!IsMetricsPortPath(context.Request.Path))
            {
                _metrics.MetricsPortRefused(SidecarMetrics.MetricsPortNotServed);
                await JsonResponses.WriteErrorAsync(context, Refusals.NotOnMetricsPort(context.Request.Path.Value ?? "/"));
                return;
            }

            if (Interlocked.Increment(ref _metricsPortRequests) > _options.MetricsPortMaxRequests)
            {
                Interlocked.Decrement(ref _metricsPortRequests);
                _metrics.MetricsPortRefused(SidecarMetrics.MetricsPortRequestLimit);
                await JsonResponses.WriteErrorAsync(context, Refusals.MetricsPortBusy(_options.MetricsPortMaxRequests));
                return;
            }

            try
            {
                await ServeAsync(context);
            }
            finally
            {
                Interlocked.Decrement(ref _metricsPortRequests);
            }

            return;
        }

        if (!_options.AllowNonLoopbackCallers && context.Connection.RemoteIpAddress is { } remote && !IsLoopback(remote))
        {
            _metrics.Rejected(null, Refusals.ForbiddenRemoteCaller.Code);
            await JsonResponses.WriteErrorAsync(context, Refusals.ForbiddenRemoteCaller, AnthropicShaped(context));
            return;
        }

        await ServeAsync(context);
    }

    /// <summary>The request passed on, every failure a JSON error.</summary>
    private async Task ServeAsync(HttpContext context)
    {
        try
        {
            await _next(context);

            // Routing answers an unknown path (404) or method (405) with a bare status: give it a body.
            var response = context.Response;
            if (response.StatusCode is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed
                && !response.HasStarted
                && response.ContentType is null)
            {
                await WriteStatusBodyAsync(context);
            }
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            var refusal = ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? Refusals.TooLarge(context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? _options.MaxRequestBodyBytes)
                : Refusals.StatusOnly(ex.StatusCode);
            context.Response.Clear();
            CountRefusal(context, refusal.Code);
            await JsonResponses.WriteErrorAsync(context, refusal, AnthropicShaped(context));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            Log.Unhandled(_logger, context.Request.Method, context.Request.Path.Value ?? "", ex.GetType().Name);
            context.Response.Clear();
            await JsonResponses.WriteErrorAsync(context, Refusals.Internal, AnthropicShaped(context));
        }
    }

    private Task WriteStatusBodyAsync(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var refusal = status switch
        {
            StatusCodes.Status404NotFound => Refusals.NotFound(context.Request.Path.Value ?? "/"),
            StatusCodes.Status405MethodNotAllowed => Refusals.MethodNotAllowed(context.Request.Method),
            _ => Refusals.StatusOnly(status),
        };
        CountRefusal(context, refusal.Code);
        return JsonResponses.WriteErrorAsync(context, refusal, AnthropicShaped(context));
    }

    // A wrong path or bad HTTP from a router shows among the API's refusals; on the metrics port, where
    // anyone who reaches the pod may knock, in a series of its own.
    private void CountRefusal(HttpContext context, string code)
    {
        if (OnMetricsPort(context))
        {
            _metrics.MetricsPortRefused(SidecarMetrics.MetricsPortNotServed);
        }
        else
        {
            _metrics.Rejected(null, code);
        }
    }

    private bool OnMetricsPort(HttpContext context) =>
        _options.MetricsPort is { } metricsPort && context.Connection.LocalPort == metricsPort;

    // Errors on the Anthropic route carry Anthropic's top-level "type": "error" wherever they are made.
    private static bool AnthropicShaped(HttpContext context) =>
        context.Request.Path.Equals(ProxyRoute.AnthropicMessages.Path, StringComparison.OrdinalIgnoreCase);

    private static bool IsMetricsPortPath(PathString path) =>
        path.Equals("/metrics", StringComparison.Ordinal)
        || path.Equals("/healthz", StringComparison.Ordinal)
        || path.Equals("/readyz", StringComparison.Ordinal);

    private static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static partial class Log
    {
        // The exception's type only: messages of unexpected exceptions are not vetted for secrets.
        [LoggerMessage(50, LogLevel.Error, "Unhandled {ExceptionType} serving {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, string method, string path, string exceptionType);
    }
}
