using System.Text.Json;
using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Docs;

/// <summary>Reads the <c>&lt;id&gt;.json</c> files the reliability suite writes into one folder.</summary>
internal static class ReliabilityFiguresReader
{
    /// <summary>Every scenario in <paramref name="directory"/>, ordered by id; a file that is not a scenario names itself in the error.</summary>
    public static IReadOnlyList<ReliabilityScenario> ReadDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new CliException($"{directory} does not exist: run the reliability suite first (scripts/reliability)");
        }

        var files = Directory.GetFiles(directory, "*.json").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new CliException($"{directory} holds no scenario figures (*.json): run the reliability suite first (scripts/reliability)");
        }

        var scenarios = new List<ReliabilityScenario>(files.Count);
        foreach (var file in files)
        {
            string json;
            try
            {
                json = File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read {file}: {ex.Message}", ex);
            }

            scenarios.Add(Parse(json, file));
        }

        return [.. scenarios.OrderBy(s => s.Id, StringComparer.Ordinal)];
    }

    /// <param name="source">Named in the error when the text is not a scenario.</param>
    public static ReliabilityScenario Parse(string json, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var figures = new List<ReliabilityFigure>();
            if (root.TryGetProperty("figures", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var figure in list.EnumerateArray())
                {
                    figures.Add(new ReliabilityFigure(Text(figure, "name"), Format(figure.GetProperty("value"))));
                }
            }

            return new ReliabilityScenario(
                Text(root, "id"),
                Text(root, "group"),
                Text(root, "title"),
                Text(root, "outcome"),
                root.GetProperty("passed").GetBoolean(),
                root.TryGetProperty("full", out var full) && full.ValueKind == JsonValueKind.True,
                root.GetProperty("measured_at").GetDateTimeOffset(),
                figures);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CliException($"{source} is not a scenario's figures (id, group, title, outcome, passed, measured_at, figures): {ex.Message}", ex);
        }
    }

    private static string Text(JsonElement element, string property)
    {
        var value = element.GetProperty(property);
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidOperationException($"'{property}' must be a string");
    }

    /// <summary>Numbers keep the digits the suite measured; true/false read as yes/no.</summary>
    private static string Format(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        JsonValueKind.Null => "none",
        _ => value.GetRawText(),
    };
}
