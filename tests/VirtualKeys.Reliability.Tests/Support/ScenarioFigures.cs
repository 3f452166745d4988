using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtualKeys.Reliability.Tests.Support;

/// <summary>
/// What one scenario measured, written as <c>&lt;id&gt;.json</c> into
/// <see cref="ReliabilityRun.OutputDirectory"/>; <c>vk docs reliability</c> renders the folder into
/// docs/reliability.md.
/// </summary>
/// <param name="Id">Stable file name, e.g. <c>postgres-killed-under-load</c>.</param>
/// <param name="Group">The section it belongs in: Faults, Budgets, Bad input, Secrets, Authorization.</param>
/// <param name="Title">One line a reader understands.</param>
/// <param name="Outcome">What held, in a sentence (written from the measured figures, not a constant).</param>
/// <param name="Passed">Whether every assertion of the scenario held.</param>
/// <param name="Figures">Name → measured value (numbers, strings), in the order to print.</param>
public sealed record ScenarioFigures(
    string Id,
    string Group,
    string Title,
    string Outcome,
    bool Passed,
    IReadOnlyList<KeyValuePair<string, object>> Figures)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Whether the figures came from the long variant.</summary>
    public bool Full { get; init; } = ReliabilityRun.IsFull;

    public DateTimeOffset MeasuredAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Writes the figures file; call it after the scenario's assertions held.</summary>
    public async Task WriteAsync(CancellationToken cancellationToken)
    {
        var directory = ReliabilityRun.OutputDirectory;
        Directory.CreateDirectory(directory);
        var document = new Dictionary<string, object?>
        {
            ["id"] = Id,
            ["group"] = Group,
            ["title"] = Title,
            ["outcome"] = Outcome,
            ["passed"] = Passed,
            ["full"] = Full,
            ["measured_at"] = MeasuredAt,
            ["figures"] = Figures.Select(f => new Dictionary<string, object> { ["name"] = f.Key, ["value"] = f.Value }).ToList(),
        };
        var path = Path.Combine(directory, Id + ".json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document, Json), cancellationToken);
    }
}
