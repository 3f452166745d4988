using System.Text.Json.Nodes;
using Google.Protobuf;

namespace VirtualKeys.LocalCluster.Protobuf;

/// <summary>Reading helpers for the field shapes Kubernetes' generated.proto files use.</summary>
internal static class ProtobufFields
{
    /// <summary>The next field number, or 0 at the end of the message.</summary>
    public static int Next(CodedInputStream input)
    {
        var tag = input.ReadTag();
        return tag == 0 ? 0 : WireFormat.GetTagFieldNumber(tag);
    }

    /// <summary>
    /// Sets a string field unless it is empty: Kubernetes' Go types write every non-pointer string,
    /// empty ones included, where JSON omits them; empty means unset (and lets the server default it).
    /// </summary>
    public static void SetString(JsonObject target, string name, string value)
    {
        if (value.Length > 0)
        {
            target[name] = value;
        }
    }

    /// <summary>Adds one entry of a <c>map&lt;string, string&gt;</c> field (an entry message: key 1, value 2).</summary>
    public static void AddStringEntry(JsonObject into, ByteString entry) =>
        AddEntry(into, entry, input => JsonValue.Create(input.ReadString()));

    /// <summary>Adds one entry of a <c>map&lt;string, bytes&gt;</c> field, base64 as in JSON.</summary>
    public static void AddBytesEntry(JsonObject into, ByteString entry) =>
        AddEntry(into, entry, input => JsonValue.Create(input.ReadBytes().ToBase64()));

    private static void AddEntry(JsonObject into, ByteString entry, Func<CodedInputStream, JsonNode?> readValue)
    {
        var input = entry.CreateCodedInput();
        var key = "";
        JsonNode? value = JsonValue.Create("");
        while (Next(input) is var field and not 0)
        {
            switch (field)
            {
                case 1:
                    key = input.ReadString();
                    break;
                case 2:
                    value = readValue(input);
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        into[key] = value;
    }
}
