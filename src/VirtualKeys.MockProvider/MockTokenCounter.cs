using System.Text.Json;

namespace VirtualKeys.MockProvider;

/// <summary>
/// Deterministic "tokens": whitespace-separated words in the prompt fields (messages, prompt, input,
/// system), ignoring structural strings such as roles and types. At least one per request.
/// </summary>
internal static class MockTokenCounter
{
    private static readonly HashSet<string> PromptFields = new(StringComparer.Ordinal) { "messages", "prompt", "input", "system" };
    private static readonly HashSet<string> StructuralFields = new(StringComparer.Ordinal) { "role", "type", "name", "id", "tool_call_id", "model", "cache_control" };

    public static int CountInput(JsonElement root)
    {
        var count = 0;
        if (root.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in root.EnumerateObject())
            {
                if (PromptFields.Contains(property.Name))
                {
                    count += CountWords(property.Value);
                }
            }
        }

        return Math.Max(1, count);
    }

    public static int CountWords(string text)
    {
        var count = 0;
        var inWord = false;
        foreach (var c in text)
        {
            var space = char.IsWhiteSpace(c);
            if (!space && !inWord)
            {
                count++;
            }

            inWord = !space;
        }

        return count;
    }

    private static int CountWords(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => CountWords(element.GetString()!),
        JsonValueKind.Array => element.EnumerateArray().Sum(CountWords),
        JsonValueKind.Object => element.EnumerateObject().Where(p => !StructuralFields.Contains(p.Name)).Sum(p => CountWords(p.Value)),
        _ => 0,
    };
}
