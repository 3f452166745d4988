using System.Text.Json.Nodes;
using Google.Protobuf;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Protobuf;

/// <summary>
/// Turns a protobuf request body into the JSON object the rest of the server works with. kubectl's
/// typed clients (<c>kubectl create secret|configmap|namespace</c>) send protobuf and do not fall
/// back to JSON on 415, so the core kinds they create are read here; every other kind is JSON only.
/// </summary>
internal static class ProtobufBody
{
    /// <summary>The kinds whose protobuf bodies this server reads.</summary>
    public static readonly IReadOnlySet<string> Kinds = new HashSet<string>(StringComparer.Ordinal) { "Secret", "ConfigMap", "Namespace" };

    public static bool Supports(string group, string kind) => group.Length == 0 && Kinds.Contains(kind);

    public static JsonObject Read(byte[] body, string expectedKind)
    {
        try
        {
            var envelope = ProtobufEnvelope.Read(body);
            if (envelope.Kind.Length > 0 && envelope.Kind != expectedKind)
            {
                throw ApiErrors.BadRequest($"the protobuf body holds a {envelope.Kind}, not a {expectedKind}");
            }

            var obj = new JsonObject { ["apiVersion"] = envelope.ApiVersion.Length > 0 ? envelope.ApiVersion : "v1", ["kind"] = expectedKind };
            var input = envelope.Raw.CreateCodedInput();
            while (ProtobufFields.Next(input) is var field and not 0)
            {
                if (field == 1)
                {
                    obj["metadata"] = ObjectMetaReader.Read(input.ReadBytes());
                    continue;
                }

                switch (expectedKind)
                {
                    case "Secret":
                        ReadSecretField(obj, field, input);
                        break;
                    case "ConfigMap":
                        ReadConfigMapField(obj, field, input);
                        break;
                    default:
                        ReadNamespaceField(obj, field, input);
                        break;
                }
            }

            return obj;
        }
        catch (InvalidProtocolBufferException e)
        {
            throw ApiErrors.BadRequest($"the protobuf body could not be read: {e.Message}");
        }
    }

    // k8s.io.api.core.v1.Secret: data 2 (map<string, bytes>), type 3, stringData 4, immutable 5.
    private static void ReadSecretField(JsonObject secret, int field, CodedInputStream input)
    {
        switch (field)
        {
            case 2:
                ProtobufFields.AddBytesEntry(Child(secret, "data"), input.ReadBytes());
                break;
            case 3:
                ProtobufFields.SetString(secret, "type", input.ReadString());
                break;
            case 4:
                ProtobufFields.AddStringEntry(Child(secret, "stringData"), input.ReadBytes());
                break;
            case 5:
                secret["immutable"] = input.ReadBool();
                break;
            default:
                input.SkipLastField();
                break;
        }
    }

    // k8s.io.api.core.v1.ConfigMap: data 2 (map<string, string>), binaryData 3 (map<string, bytes>), immutable 4.
    private static void ReadConfigMapField(JsonObject configMap, int field, CodedInputStream input)
    {
        switch (field)
        {
            case 2:
                ProtobufFields.AddStringEntry(Child(configMap, "data"), input.ReadBytes());
                break;
            case 3:
                ProtobufFields.AddBytesEntry(Child(configMap, "binaryData"), input.ReadBytes());
                break;
            case 4:
                configMap["immutable"] = input.ReadBool();
                break;
            default:
                input.SkipLastField();
                break;
        }
    }

    // k8s.io.api.core.v1.Namespace: spec 2 (NamespaceSpec: finalizers 1); status 3 is the server's.
    private static void ReadNamespaceField(JsonObject ns, int field, CodedInputStream input)
    {
        if (field != 2)
        {
            input.SkipLastField();
            return;
        }

        var spec = input.ReadBytes().CreateCodedInput();
        var finalizers = new JsonArray();
        while (ProtobufFields.Next(spec) is var specField and not 0)
        {
            if (specField == 1)
            {
                finalizers.Add(spec.ReadString());
            }
            else
            {
                spec.SkipLastField();
            }
        }

        ns["spec"] = finalizers.Count > 0 ? new JsonObject { ["finalizers"] = finalizers } : new JsonObject();
    }

    private static JsonObject Child(JsonObject parent, string name) =>
        parent[name] as JsonObject ?? (JsonObject)(parent[name] = new JsonObject());
}
