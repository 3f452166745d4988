using System.Text.Json.Nodes;
using VirtualKeys.Model.Tests.Support;

namespace VirtualKeys.Model.Tests.Examples;

/// <summary>The YAML documents under examples/, as JSON.</summary>
internal static class ExampleManifests
{
    public static IEnumerable<(string Name, JsonObject Manifest)> All()
    {
        var root = Repository.PathOf("examples");
        foreach (var file in Directory.EnumerateFiles(root, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(Repository.PathOf(""), file).Replace('\\', '/');
            var documents = YamlToJson.ParseAll(File.ReadAllText(file));
            for (var i = 0; i < documents.Count; i++)
            {
                if (documents[i] is JsonObject manifest)
                {
                    yield return ($"{relative}#{i}", manifest);
                }
            }
        }
    }

    public static IEnumerable<(string Name, JsonObject Manifest)> VirtualKeys() =>
        All().Where(example => (string?)example.Manifest["apiVersion"] == WellKnown.ApiVersion && (string?)example.Manifest["kind"] == WellKnown.Kind);

    public static JsonObject Get(string name) => All().Single(example => example.Name == name).Manifest;
}
