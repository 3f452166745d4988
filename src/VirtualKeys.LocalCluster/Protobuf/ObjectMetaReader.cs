using System.Text.Json.Nodes;
using Google.Protobuf;

namespace VirtualKeys.LocalCluster.Protobuf;

/// <summary>
/// k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta as JSON: the fields a client may set. Server-owned
/// ones (uid, creationTimestamp, generation, managedFields) are skipped; the server sets them anyway.
/// </summary>
internal static class ObjectMetaReader
{
    public static JsonObject Read(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        var metadata = new JsonObject();
        JsonObject? labels = null, annotations = null;
        JsonArray? finalizers = null, owners = null;
        while (ProtobufFields.Next(input) is var field and not 0)
        {
            switch (field)
            {
                case 1:
                    ProtobufFields.SetString(metadata, "name", input.ReadString());
                    break;
                case 2:
                    ProtobufFields.SetString(metadata, "generateName", input.ReadString());
                    break;
                case 3:
                    ProtobufFields.SetString(metadata, "namespace", input.ReadString());
                    break;
                case 6:
                    ProtobufFields.SetString(metadata, "resourceVersion", input.ReadString());
                    break;
                case 11:
                    ProtobufFields.AddStringEntry(labels ??= [], input.ReadBytes());
                    break;
                case 12:
                    ProtobufFields.AddStringEntry(annotations ??= [], input.ReadBytes());
                    break;
                case 13:
                    (owners ??= []).Add(ReadOwnerReference(input.ReadBytes()));
                    break;
                case 14:
                    (finalizers ??= []).Add(input.ReadString());
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        Set(metadata, "labels", labels);
        Set(metadata, "annotations", annotations);
        Set(metadata, "ownerReferences", owners);
        Set(metadata, "finalizers", finalizers);
        return metadata;
    }

    private static JsonObject ReadOwnerReference(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        var owner = new JsonObject();
        while (ProtobufFields.Next(input) is var field and not 0)
        {
            switch (field)
            {
                case 1:
                    ProtobufFields.SetString(owner, "kind", input.ReadString());
                    break;
                case 3:
                    ProtobufFields.SetString(owner, "name", input.ReadString());
                    break;
                case 4:
                    ProtobufFields.SetString(owner, "uid", input.ReadString());
                    break;
                case 5:
                    ProtobufFields.SetString(owner, "apiVersion", input.ReadString());
                    break;
                case 6:
                    owner["controller"] = input.ReadBool();
                    break;
                case 7:
                    owner["blockOwnerDeletion"] = input.ReadBool();
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return owner;
    }

    private static void Set(JsonObject target, string name, JsonNode? value)
    {
        if (value is not null)
        {
            target[name] = value;
        }
    }
}
