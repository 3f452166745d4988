using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// The seam where the demo starts the resolution sidecar in-process on the registry: the same
/// PostgreSQL database and KEK file as the operator, a free loopback port.
/// </summary>
internal static class SidecarLauncher
{
    public static Task<RunningSidecar> StartAsync(string registryConnectionString, string kekFile, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(registryConnectionString);
        ArgumentException.ThrowIfNullOrEmpty(kekFile);
        cancellationToken.ThrowIfCancellationRequested();

        // VirtualKeys.Sidecar can only be built with an IKeySnapshotSource and an IUsageSink
        // (SidecarApp.Create), and so far ships only the in-memory ones: a key the operator puts
        // into the registry would be unknown to it. When the registry-backed pair exists, this
        // becomes SidecarApp.Create(new SidecarOptions { Port = 0 }, <registry source>, <registry sink>)
        // followed by StartAsync, returning the bound address.
        throw new CliException(
            "the sidecar cannot run on the registry yet: VirtualKeys.Sidecar has no registry-backed IKeySnapshotSource and IUsageSink " +
            "(its Program.cs still uses the in-memory ones), so it would not know the key the operator registered");
    }
}
