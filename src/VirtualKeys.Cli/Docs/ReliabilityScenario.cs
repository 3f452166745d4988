namespace VirtualKeys.Cli.Docs;

/// <summary>
/// One scenario's figures as the reliability suite wrote them (<c>&lt;id&gt;.json</c>, see
/// tests/VirtualKeys.Reliability.Tests/Support/ScenarioFigures.cs), with every value already in the
/// text it is printed as.
/// </summary>
/// <param name="Full">Whether the long variant produced the figures (false: the short CI variant).</param>
internal sealed record ReliabilityScenario(
    string Id,
    string Group,
    string Title,
    string Outcome,
    bool Passed,
    bool Full,
    DateTimeOffset MeasuredAt,
    IReadOnlyList<ReliabilityFigure> Figures);
