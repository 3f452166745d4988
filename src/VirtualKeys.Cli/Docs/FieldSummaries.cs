using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace VirtualKeys.Cli.Docs;

/// <summary>
/// The doc-comment summaries of a type's fields, read from the XML documentation file the build
/// copies next to the assembly, with <c>&lt;c&gt;</c> rendered as Markdown code.
/// </summary>
internal static partial class FieldSummaries
{
    public static IReadOnlyDictionary<string, string> Load(Type type)
    {
        var assembly = type.Assembly;
        var path = Path.ChangeExtension(assembly.Location, ".xml");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The reference takes descriptions from {path}; build {assembly.GetName().Name} with GenerateDocumentationFile.", path);
        }

        var prefix = $"F:{type.FullName}.";
        var summaries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            var name = (string?)member.Attribute("name");
            if (name is not null && name.StartsWith(prefix, StringComparison.Ordinal) && member.Element("summary") is { } summary)
            {
                summaries[name[prefix.Length..]] = Render(summary);
            }
        }

        return summaries;
    }

    private static string Render(XElement summary)
    {
        var text = new StringBuilder();
        foreach (var node in summary.Nodes())
        {
            text.Append(node switch
            {
                XText plain => plain.Value,
                XElement { Name.LocalName: "c" } code => $"`{code.Value}`",
                XElement element => element.Value,
                _ => "",
            });
        }

        return Whitespace().Replace(text.ToString(), " ").Trim();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
