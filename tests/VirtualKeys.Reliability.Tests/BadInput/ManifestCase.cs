using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VirtualKeys.Testing;

namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>
/// One file of the bad-manifest corpus (<c>BadInput/Manifests/*.yaml</c>). Its header says what it
/// tests and what must happen: <c># expect: schema FIELD</c> (the API server refuses it and names the
/// field) or <c># expect: condition REASON FIELD</c> (accepted, then Ready=False with that reason and a
/// message naming the field).
/// </summary>
internal sealed partial record ManifestCase(
    string File,
    string What,
    ManifestOutcome Outcome,
    string? Reason,
    string Field,
    string Yaml,
    JsonObject Manifest)
{
    public static string Folder => Path.Combine(ToolPaths.RepositoryRoot, "tests", "VirtualKeys.Reliability.Tests", "BadInput", "Manifests");

    public string Name => Manifest["metadata"]?["name"]?.GetValue<string>() ?? throw new InvalidOperationException($"{File} has no metadata.name.");

    public static IReadOnlyList<ManifestCase> LoadAll() =>
        [.. Directory.GetFiles(Folder, "*.yaml").Order(StringComparer.Ordinal).Select(Load)];

    public static ManifestCase Load(string path)
    {
        var yaml = System.IO.File.ReadAllText(path);
        var file = Path.GetFileName(path);
        var what = Header().Match(yaml) is { Success: true } w ? w.Groups["what"].Value.Trim() : throw new InvalidOperationException($"{file} lacks '# what:'.");
        var expect = Expect().Match(yaml);
        if (!expect.Success)
        {
            throw new InvalidOperationException($"{file} lacks '# expect: schema FIELD' or '# expect: condition REASON FIELD'.");
        }

        var manifest = YamlJson.Convert(yaml) as JsonObject ?? throw new InvalidOperationException($"{file} is not a YAML mapping.");
        return expect.Groups["kind"].Value == "schema"
            ? new ManifestCase(file, what, ManifestOutcome.Schema, null, expect.Groups["rest"].Value.Trim(), yaml, manifest)
            : ParseCondition(file, what, expect.Groups["rest"].Value.Trim(), yaml, manifest);
    }

    public override string ToString() => File;

    private static ManifestCase ParseCondition(string file, string what, string rest, string yaml, JsonObject manifest)
    {
        var parts = rest.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2)
        {
            throw new InvalidOperationException($"{file}: '# expect: condition' needs a reason and a field.");
        }

        return new ManifestCase(file, what, ManifestOutcome.Condition, parts[0], parts[1], yaml, manifest);
    }

    [GeneratedRegex(@"^# what:(?<what>.*)$", RegexOptions.Multiline)]
    private static partial Regex Header();

    [GeneratedRegex(@"^# expect: (?<kind>schema|condition) (?<rest>.+)$", RegexOptions.Multiline)]
    private static partial Regex Expect();
}
