using System.Text.Json.Serialization;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Hosting;

/// <summary>The body of <c>/readyz</c>.</summary>
public sealed record ReadinessReport(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("cachesSynced")] bool CachesSynced,
    [property: JsonPropertyName("registryReachable")] bool RegistryReachable,
    [property: JsonPropertyName("registry")] string RegistryEndpoint,
    [property: JsonPropertyName("registryError")] string? RegistryError,
    [property: JsonPropertyName("leader")] bool Leader,
    [property: JsonPropertyName("unsyncedCaches"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<UnsyncedScope>? UnsyncedCaches = null);
