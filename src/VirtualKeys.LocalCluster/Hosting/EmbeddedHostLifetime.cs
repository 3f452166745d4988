using Microsoft.Extensions.Hosting;

namespace VirtualKeys.LocalCluster.Hosting;

/// <summary>
/// The server lives inside someone else's process (a test host, the vk CLI): it must not take
/// over Ctrl+C or SIGTERM as the default console lifetime would. Its owner disposes it.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
