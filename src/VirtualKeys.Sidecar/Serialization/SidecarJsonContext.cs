using System.Text.Json.Serialization;
using VirtualKeys.Sidecar.Errors;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Resolve;

namespace VirtualKeys.Sidecar.Serialization;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ResolveRequest))]
[JsonSerializable(typeof(ResolveResponse))]
[JsonSerializable(typeof(UsageReport))]
[JsonSerializable(typeof(UsageReportResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthReport))]
internal sealed partial class SidecarJsonContext : JsonSerializerContext;
