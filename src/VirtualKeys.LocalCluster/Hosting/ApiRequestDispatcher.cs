using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Handlers;
using VirtualKeys.LocalCluster.Registry;

namespace VirtualKeys.LocalCluster.Hosting;

/// <summary>
/// The one request handler behind Kestrel: authentication, injected latency, routing to
/// discovery, OpenAPI or a resource, and turning every refusal into a metav1.Status.
/// </summary>
internal sealed class ApiRequestDispatcher
{
    private readonly ResourceRegistry _registry;
    private readonly ResourceHandler _resources;
    private readonly OpenApiDocuments _openApi;
    private readonly FaultInjector _faults;
    private readonly LocalApiServerOptions _options;
    private readonly ILogger _logger;

    public ApiRequestDispatcher(ResourceRegistry registry, ResourceHandler resources, OpenApiDocuments openApi, FaultInjector faults, LocalApiServerOptions options, ILogger logger)
    {
        _registry = registry;
        _resources = resources;
        _openApi = openApi;
        _faults = faults;
        _options = options;
        _logger = logger;
    }

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            await DispatchAsync(context);
        }
        catch (ApiException e)
        {
            await WriteStatusAsync(context, e);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            await WriteStatusAsync(context, ApiErrors.TooLarge(_options.MaxRequestBodyBytes));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.RequestFailed(_logger, context.Request.Method, context.Request.Path, e);
            await WriteStatusAsync(context, ApiErrors.Internal(e.Message));
        }
    }

    private async Task DispatchAsync(HttpContext context)
    {
        if (_options.BearerToken is { } token && context.Request.Headers.Authorization.ToString() != "Bearer " + token)
        {
            throw ApiErrors.Unauthorized();
        }

        if (_faults.Latency is { Ticks: > 0 } latency)
        {
            await Task.Delay(latency, context.RequestAborted);
        }

        var path = context.Request.Path.Value ?? "/";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var isGet = HttpMethods.IsGet(context.Request.Method);
        switch (segments)
        {
            case ["version"] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.Version());
                return;
            case ["healthz" or "livez" or "readyz", ..] when isGet:
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync("ok", context.RequestAborted);
                return;
            case ["api"] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.CoreVersions(context.Request.Host.Value ?? "127.0.0.1"));
                return;
            case ["apis"] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.GroupList(_registry));
                return;
            case ["apis", var group] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.GroupDocument(_registry, group) ?? throw ApiErrors.NoRoute());
                return;
            case ["api", var version] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.ResourceList(_registry, "", version) ?? throw ApiErrors.NoRoute());
                return;
            case ["apis", var group, var version] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.ResourceList(_registry, group, version) ?? throw ApiErrors.NoRoute());
                return;
            case ["openapi", "v3"] when isGet:
                await HttpResponses.WriteJsonAsync(context, 200, _openApi.Index());
                return;
            case ["openapi", "v3", ..] when isGet:
                var document = _openApi.Document(string.Join('/', segments[2..])) ?? throw ApiErrors.NoRoute();
                await HttpResponses.WriteBytesAsync(context, 200, document);
                return;
            case ["api" or "apis" or "version" or "openapi", ..] when segments.Length <= 3 && !isGet && RequestPath.Parse(segments) is null:
                throw ApiErrors.MethodNotAllowed(context.Request.Method);
        }

        var request = RequestPath.Parse(segments) ?? throw ApiErrors.NoRoute();
        await _resources.HandleAsync(context, request);
    }

    private static async Task WriteStatusAsync(HttpContext context, ApiException error)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.Clear();
        if (error.Code == 429)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await HttpResponses.WriteBytesAsync(context, error.Code, JsonSerializer.SerializeToUtf8Bytes(error.ToStatus()));
    }
}
