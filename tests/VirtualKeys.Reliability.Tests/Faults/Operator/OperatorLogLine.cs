using System.Text.Json;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>One line the operator process wrote, stamped when the test read it (the process's own timestamps are only millisecond text).</summary>
internal sealed class OperatorLogLine
{
    public OperatorLogLine(DateTimeOffset readAt, string text)
    {
        ReadAt = readAt;
        Text = text;
        if (!text.StartsWith('{'))
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.TryGetProperty("EventId", out var id) && id.ValueKind == JsonValueKind.Number)
            {
                EventId = id.GetInt32();
            }

            if (root.TryGetProperty("Category", out var category) && category.ValueKind == JsonValueKind.String)
            {
                Category = category.GetString();
            }
        }
        catch (JsonException)
        {
            // Not a JSON console line (e.g. a crash dump on stderr): text only.
        }
    }

    public DateTimeOffset ReadAt { get; }

    public string Text { get; }

    /// <summary>The <c>LoggerMessage</c> event id of a JSON console line; ids repeat across categories.</summary>
    public int? EventId { get; }

    public string? Category { get; }
}
