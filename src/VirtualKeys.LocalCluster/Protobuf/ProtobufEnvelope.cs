using Google.Protobuf;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Protobuf;

/// <summary>
/// The frame every Kubernetes protobuf body comes in: the magic bytes <c>k8s\0</c>, then a
/// <c>runtime.Unknown</c> message holding the TypeMeta and the object's own bytes.
/// </summary>
internal readonly record struct ProtobufEnvelope(string ApiVersion, string Kind, ByteString Raw)
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";

    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    /// <exception cref="ApiException">400: not a Kubernetes protobuf body.</exception>
    /// <exception cref="InvalidProtocolBufferException">Malformed protobuf.</exception>
    public static ProtobufEnvelope Read(byte[] body)
    {
        if (!body.AsSpan().StartsWith(Magic))
        {
            throw ApiErrors.BadRequest("the protobuf body does not start with the Kubernetes prefix 'k8s\\0'");
        }

        var input = new CodedInputStream(body, Magic.Length, body.Length - Magic.Length);
        string apiVersion = "", kind = "", encoding = "";
        var raw = ByteString.Empty;
        while (ProtobufFields.Next(input) is var field and not 0)
        {
            switch (field)
            {
                case 1:
                    (apiVersion, kind) = ReadTypeMeta(input.ReadBytes());
                    break;
                case 2:
                    raw = input.ReadBytes();
                    break;
                case 3:
                    encoding = input.ReadString();
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        if (encoding.Length > 0)
        {
            throw ApiErrors.BadRequest($"the protobuf body's content encoding '{encoding}' is not supported");
        }

        return new ProtobufEnvelope(apiVersion, kind, raw);
    }

    private static (string ApiVersion, string Kind) ReadTypeMeta(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        string apiVersion = "", kind = "";
        while (ProtobufFields.Next(input) is var field and not 0)
        {
            switch (field)
            {
                case 1:
                    apiVersion = input.ReadString();
                    break;
                case 2:
                    kind = input.ReadString();
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return (apiVersion, kind);
    }
}
