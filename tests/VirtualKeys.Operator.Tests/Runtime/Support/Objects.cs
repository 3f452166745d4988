using k8s.Models;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

internal static class Objects
{
    public static V1Secret Secret(string ns, string name, string resourceVersion, string? note = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            NamespaceProperty = ns,
            Name = name,
            ResourceVersion = resourceVersion,
            Annotations = note is null ? null : new Dictionary<string, string> { ["note"] = note },
        },
    };

    public static V1ConfigMap ConfigMap(string ns, string name, string resourceVersion, params string[] secretNames) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = ns, Name = name, ResourceVersion = resourceVersion },
        Data = new Dictionary<string, string> { ["secrets"] = string.Join(',', secretNames) },
    };
}
