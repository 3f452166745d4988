using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Sidecar.Errors;
using VirtualKeys.Sidecar.OpenApi;
using VirtualKeys.Sidecar.Resolve;
using VirtualKeys.Sidecar.Serialization;
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

    [Theory]
    [InlineData(typeof(ResolveResponse), "#/components/schemas/ResolveResponse")]
    [InlineData(typeof(KeyInfo), "#/components/schemas/ResolveResponse/properties/key")]
    [InlineData(typeof(ProviderInfo), "#/components/schemas/Provider")]
    [InlineData(typeof(UsageReportResponse), "#/components/schemas/UsageReportResponse")]
    [InlineData(typeof(ErrorResponse), "#/components/schemas/Error")]
    [InlineData(typeof(ErrorDetail), "#/components/schemas/Error/properties/error")]
    public void A_response_schema_documents_exactly_the_properties_the_sidecar_sends_and_requires_those_always_sent(Type type, string schema)
    {
        var typeInfo = SidecarJsonContext.Default.GetTypeInfo(type)!;
        var documented = AssertDocumentsExactly(typeInfo, schema);

        // Nulls are left out of the JSON, so a property is always sent exactly when it cannot be null.
        Assert.Equal(JsonIgnoreCondition.WhenWritingNull, SidecarJsonContext.Default.Options.DefaultIgnoreCondition);
        var alwaysSent = typeInfo.Properties.Where(p => !p.IsGetNullable).Select(p => p.Name).ToList();
        var required = Required(documented);
        var notRequired = alwaysSent.Except(required).ToList();
        Assert.True(notRequired.Count == 0, $"{type.Name} always sends {string.Join(", ", notRequired)}, which {schema} does not list as required");
        var sometimesOmitted = required.Except(alwaysSent).ToList();
        Assert.True(sometimesOmitted.Count == 0, $"{schema} requires {string.Join(", ", sometimesOmitted)}, which {type.Name} leaves out when null");
    }

    [Theory]
    [InlineData(typeof(ResolveRequest), "#/components/schemas/ResolveRequest")]
    [InlineData(typeof(UsageReport), "#/components/schemas/UsageReport")]
    public void A_request_schema_documents_exactly_the_properties_the_sidecar_reads(Type type, string schema) =>
        AssertDocumentsExactly(SidecarJsonContext.Default.GetTypeInfo(type)!, schema);

    /// <summary>The schema's properties are the JSON names the source-generated contract reads and writes, and its required ones are among them.</summary>
    [Fact]
    public void Every_reference_in_the_document_points_at_a_component_it_defines()
    {
        var references = new List<string>();
        Collect(JsonElement.Parse(SidecarOpenApiDocument.Utf8Json.Span));

        Assert.Contains("#/components/responses/BudgetExhausted", references);
        foreach (var reference in references.Distinct())
        {
            Schema(reference);
        }

        void Collect(JsonElement element)
        {
            if (element.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "$ref")
                    {
                        references.Add(property.Value.GetString()!);
                    }
                    else
                    {
                        Collect(property.Value);
                    }
                }
            }
            else if (element.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item);
                }
            }
        }
    }

    private static JsonElement AssertDocumentsExactly(JsonTypeInfo typeInfo, string schema)
    {
        var documented = Schema(schema);
        var documentedNames = documented.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToList();
        var jsonNames = typeInfo.Properties.Select(p => p.Name).ToList();
        var typeName = typeInfo.Type.Name;

        Assert.NotEmpty(jsonNames);
        var undocumented = jsonNames.Except(documentedNames).ToList();
        Assert.True(undocumented.Count == 0, $"{typeName} has {string.Join(", ", undocumented)}, which {schema} does not document");
        var unknown = documentedNames.Except(jsonNames).ToList();
        Assert.True(unknown.Count == 0, $"{schema} documents {string.Join(", ", unknown)}, which {typeName} does not have");
        var requiredButAbsent = Required(documented).Except(documentedNames).ToList();
        Assert.True(requiredButAbsent.Count == 0, $"{schema} requires {string.Join(", ", requiredButAbsent)}, which it does not document");
        return documented;
    }

    /// <summary>The element at a local JSON pointer (<c>#/components/schemas/…</c>) of the served document.</summary>
    private static JsonElement Schema(string pointer)
    {
        var element = JsonElement.Parse(SidecarOpenApiDocument.Utf8Json.Span);
        foreach (var name in pointer.TrimStart('#', '/').Split('/'))
        {
            Assert.True(element.TryGetProperty(name, out element), $"openapi.json has no {pointer}");
        }

        return element;
    }

    private static List<string> Required(JsonElement schema) =>
        schema.TryGetProperty("required", out var required) ? required.EnumerateArray().Select(r => r.GetString()!).ToList() : [];
}
