using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.EventEmitters;

namespace VirtualKeys.Cli.Manifests;

/// <summary>
/// Writes a Kubernetes object as YAML through its JSON form, so that field names, omitted nulls and
/// date formats are exactly what the API server receives from the same object.
/// </summary>
internal static partial class ManifestYaml
{
    private static readonly ISerializer Serializer = new SerializerBuilder()
        .WithQuotingNecessaryStrings()
        .WithIndentedSequences()
        .WithEventEmitter(next => new TimestampQuoter(next))
        .Build();

    public static string Write(object kubernetesObject)
    {
        var json = JsonNode.Parse(KubernetesJson.Serialize(kubernetesObject));
        return Serializer.Serialize(ToPlain(json));
    }

    private static object? ToPlain(JsonNode? node) => node switch
    {
        JsonObject map => map.ToDictionary(entry => entry.Key, entry => ToPlain(entry.Value)),
        JsonArray list => list.Select(ToPlain).ToList(),
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonValue value when value.GetValueKind() is JsonValueKind.True or JsonValueKind.False => value.GetValue<bool>(),
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => value.GetValue<decimal>(),
        _ => null,
    };

    [GeneratedRegex(@"^\d{4}-\d{1,2}-\d{1,2}")]
    private static partial Regex Timestamp();

    // YAML 1.1 readers (kubectl's among them) take an unquoted 2026-12-31T00:00:00Z for a timestamp, not a string.
    private sealed class TimestampQuoter(IEventEmitter next) : ChainedEventEmitter(next)
    {
        public override void Emit(ScalarEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Value is string text && Timestamp().IsMatch(text))
            {
                eventInfo.Style = ScalarStyle.DoubleQuoted;
            }

            base.Emit(eventInfo, emitter);
        }
    }
}
