using System.Text.Json.Serialization;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Notifications;

namespace VirtualKeys.Registry;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VirtualKeyConfig))]
[JsonSerializable(typeof(RegistryChange))]
[JsonSerializable(typeof(Dictionary<string, long>))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
