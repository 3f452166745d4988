using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Tests.Backends;

/// <summary>An HTTP answer as a test reads it: code, body, warnings, and the Status fields of an error.</summary>
public sealed record RawResponse(int Code, string Body, IReadOnlyList<string> Warnings, string? ContentType)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public string? Reason => (string?)Json?["reason"];

    public string? Message => (string?)Json?["message"];

    public JsonElement Element => JsonSerializer.Deserialize<JsonElement>(Body);

    /// <summary>Asserts a metav1.Status failure with this code and reason, as a real API server sends.</summary>
    public RawResponse AssertStatus(int code, string reason)
    {
        Assert.True(code == Code, $"expected {code} {reason}, got {Code}: {Body}");
        var json = Json!;
        Assert.Equal("Status", (string?)json["kind"]);
        Assert.Equal("v1", (string?)json["apiVersion"]);
        Assert.Equal("Failure", (string?)json["status"]);
        Assert.Equal(code, (int?)json["code"]);
        Assert.Equal(reason, (string?)json["reason"]);
        return this;
    }
}
