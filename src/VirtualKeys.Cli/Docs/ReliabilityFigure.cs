namespace VirtualKeys.Cli.Docs;

/// <summary>A measured figure: its name and its value as printed (numbers exactly as measured).</summary>
internal sealed record ReliabilityFigure(string Name, string Value);
