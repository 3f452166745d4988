using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace VirtualKeys.Model.Crd;

/// <summary>
/// The summaries of an assembly's XML documentation file, which the compiler writes next to the
/// assembly and the build copies next to every program that references it.
/// </summary>
internal sealed partial class XmlDocumentation
{
    private readonly Dictionary<string, string> _summaries;

    private XmlDocumentation(Dictionary<string, string> summaries) => _summaries = summaries;

    public static XmlDocumentation Load(Assembly assembly)
    {
        var fileName = assembly.GetName().Name + ".xml";
        var candidates = new List<string>();
        if (!string.IsNullOrEmpty(assembly.Location))
        {
            candidates.Add(Path.Combine(Path.GetDirectoryName(assembly.Location)!, fileName));
        }

        candidates.Add(Path.Combine(AppContext.BaseDirectory, fileName));
        var path = candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                $"The CRD descriptions come from {fileName}, which is not at {string.Join(" or ", candidates.Distinct())}. " +
                $"Build {assembly.GetName().Name} with GenerateDocumentationFile and keep the file next to the assembly.",
                fileName);

        var summaries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            var name = (string?)member.Attribute("name");
            var summary = member.Element("summary");
            if (name is not null && summary is not null)
            {
                summaries[name] = Render(summary);
            }
        }

        return new XmlDocumentation(summaries);
    }

    public string? Summary(Type type) => Find("T:" + DocName(type));

    public string? Summary(PropertyInfo property) => Find($"P:{DocName(property.DeclaringType!)}.{property.Name}");

    private string? Find(string id) => _summaries.TryGetValue(id, out var text) && text.Length > 0 ? text : null;

    private static string DocName(Type type) => type.FullName!.Replace('+', '.');

    private static string Render(XElement element)
    {
        var text = new StringBuilder();
        Append(element, text);
        return Whitespace().Replace(text.ToString(), " ").Trim();
    }

    private static void Append(XElement element, StringBuilder text)
    {
        foreach (var node in element.Nodes())
        {
            switch (node)
            {
                case XText plain:
                    text.Append(plain.Value);
                    break;
                case XElement { Name.LocalName: "see" or "seealso" } reference:
                    text.Append(ReferenceText(reference));
                    break;
                case XElement { Name.LocalName: "paramref" or "typeparamref" } parameter:
                    text.Append((string?)parameter.Attribute("name"));
                    break;
                case XElement inner:
                    Append(inner, text);
                    break;
            }
        }
    }

    // A reference to a property reads as its field name in the resource, e.g. spec.defaultModel's "defaultModel".
    private static string ReferenceText(XElement reference)
    {
        if (!reference.IsEmpty)
        {
            return reference.Value;
        }

        if ((string?)reference.Attribute("langword") is { } keyword)
        {
            return keyword;
        }

        var cref = (string?)reference.Attribute("cref") ?? "";
        var member = cref.Split('(')[0];
        var simpleName = member[(member.LastIndexOf('.') + 1)..];
        return cref.StartsWith("P:", StringComparison.Ordinal) || cref.StartsWith("F:", StringComparison.Ordinal)
            ? JsonNamingPolicy.CamelCase.ConvertName(simpleName)
            : simpleName;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
