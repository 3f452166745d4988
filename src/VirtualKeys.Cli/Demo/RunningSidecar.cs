namespace VirtualKeys.Cli.Demo;

/// <summary>A sidecar the demo started, and how to reach it.</summary>
internal sealed record RunningSidecar(Uri BaseAddress, IAsyncDisposable Host);
