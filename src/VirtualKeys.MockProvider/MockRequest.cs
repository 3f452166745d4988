namespace VirtualKeys.MockProvider;

/// <summary>A request as the mock received it, for tests to assert on (which credential arrived, which model).</summary>
public sealed class MockRequest
{
    public required string Method { get; init; }

    public required string Path { get; init; }

    public required string Query { get; init; }

    /// <summary>Header name (case-insensitive) to its values joined by ", ".</summary>
    public required IReadOnlyDictionary<string, string> Headers { get; init; }

    public required string Body { get; init; }

    /// <summary>The model the body asked for (or the Azure deployment); null when none.</summary>
    public string? Model { get; init; }

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public override string ToString() => $"{Method} {Path}";
}
