namespace VirtualKeys.Testing.Processes;

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr);
