namespace VirtualKeys.Cli.Demo;

/// <summary>What <c>vk demo</c> was asked for.</summary>
/// <param name="Postgres">A connection string to use instead of a throwaway server.</param>
/// <param name="Kubeconfig">A real cluster to use instead of the local API server.</param>
/// <param name="Requests">How many requests to send; default: twice the key's RPM limit plus one, so some are refused even if a new minute starts mid-burst.</param>
internal sealed record DemoOptions(string? Postgres, FileInfo? Kubeconfig, bool Keep, bool Json, bool Verbose, int? Requests);
