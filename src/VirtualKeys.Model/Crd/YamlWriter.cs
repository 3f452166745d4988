using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace VirtualKeys.Model.Crd;

/// <summary>
/// Writes JSON as block-style YAML: keys in the JSON's order, numbers as JSON wrote them, no line
/// folding, and quotes around any string that a YAML 1.1 or 1.2 reader would take for another type.
/// </summary>
internal static partial class YamlWriter
{
    public static string Write(JsonNode node)
    {
        using var writer = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(writer, new EmitterSettings(2, int.MaxValue, false, 1024, newLine: "\n"));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Emit(emitter, node);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    private static void Emit(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject map:
                var emptyMap = map.Count == 0;
                emitter.Emit(new MappingStart(null, null, true, emptyMap ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (key, value) in map)
                {
                    EmitString(emitter, key);
                    Emit(emitter, value);
                }

                emitter.Emit(new MappingEnd());
                break;
            case JsonArray list:
                var emptyList = list.Count == 0;
                emitter.Emit(new SequenceStart(null, null, true, emptyList ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in list)
                {
                    Emit(emitter, item);
                }

                emitter.Emit(new SequenceEnd());
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                EmitString(emitter, value.GetValue<string>());
                break;
            case null:
                emitter.Emit(new Scalar("null"));
                break;
            default:
                // Numbers and booleans: JSON's spelling is also YAML's.
                emitter.Emit(new Scalar(node.ToJsonString()));
                break;
        }
    }

    private static void EmitString(IEmitter emitter, string text)
    {
        var style = LooksLikeAnotherType().IsMatch(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any;
        emitter.Emit(new Scalar(null, null, text, style, true, true));
    }

    // Null, booleans (including YAML 1.1's yes/no/on/off), numbers in any base, infinities, timestamps, merge keys.
    [GeneratedRegex(@"^(|~|null|Null|NULL|[yY]|yes|Yes|YES|[nN]|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|[-+]?[0-9][0-9_:]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*([eE][-+]?[0-9]+)?|[-+]?0[xob][0-9a-fA-F_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|<<|=)$")]
    private static partial Regex LooksLikeAnotherType();
}
