using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests.Support;

/// <summary>A rendered multi-document YAML stream, as objects with kind and name.</summary>
public static class Manifests
{
    public static IReadOnlyList<YamlMappingNode> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents
            .Select(d => d.RootNode)
            .OfType<YamlMappingNode>()
            .Where(n => n.Children.Count > 0)
            .ToList();
    }

    public static string Kind(this YamlMappingNode node) => node.Scalar("kind");

    public static string Name(this YamlMappingNode node) => ((YamlMappingNode)node["metadata"]).Scalar("name");

    public static string Scalar(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode scalar
            ? scalar.Value ?? string.Empty
            : string.Empty;

    public static YamlNode? Path(this YamlNode node, params string[] keys)
    {
        var current = node;
        foreach (var key in keys)
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            current = next;
        }

        return current;
    }
}
