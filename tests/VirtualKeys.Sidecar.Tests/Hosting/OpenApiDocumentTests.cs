using System.Net;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Hosting;

public sealed class OpenApiDocumentTests
{
    [Fact]
    public async Task The_sidecar_serves_its_openapi_document_describing_every_route_it_maps()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.Client.GetAsync("/openapi.json", TestSidecar.Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var document = await TestSidecar.ReadJsonAsync(response);
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths");

        var endpoints = sidecar.Host.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        // An endpoint without method metadata (prometheus-net's /metrics) answers GET.
        var mapped = endpoints
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Path: e.RoutePattern.RawText!, Method: m.ToLowerInvariant())))
            .ToList();

        Assert.Contains(mapped, r => r.Path == "/v1/resolve");
        Assert.Contains(mapped, r => r.Path == "/v1/messages");
        foreach (var (path, method) in mapped)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is served but not described in openapi.json");
            Assert.True(item.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} is served but not described in openapi.json");
        }

        foreach (var described in paths.EnumerateObject())
        {
            Assert.True(mapped.Exists(r => r.Path == described.Name), $"openapi.json describes {described.Name}, which the sidecar does not serve");
        }
    }
}
