using Microsoft.Extensions.Logging;

namespace VirtualKeys.LocalCluster;

/// <summary>Settings of a <see cref="LocalApiServer"/>, checked when it starts.</summary>
public sealed class LocalApiServerOptions
{
    /// <summary>Port on 127.0.0.1; 0 picks a free one (see <see cref="LocalApiServer.BaseAddress"/>).</summary>
    public int Port { get; set; }

    /// <summary>When set, every request must carry "Authorization: Bearer {token}" (401 otherwise); the kubeconfig carries it.</summary>
    public string? BearerToken { get; set; }

    /// <summary>etcd's default object limit is 1.5 MiB; the API server refuses bodies over 3 MiB with 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 3 * 1024 * 1024;

    /// <summary>How many changes are kept for watches that resume from a resourceVersion; older ones answer 410 Gone.</summary>
    public int WatchHistoryCapacity { get; set; } = 10_000;

    /// <summary>Watch duration when a client gives no timeoutSeconds or 0 (a real server picks 30–60 minutes).</summary>
    public TimeSpan DefaultWatchTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often a watch that allows bookmarks receives one (a real server: about a minute).</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Clock for creationTimestamp, deletionTimestamp and ages in tables. Transport timeouts use real time.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; set; }

    internal void Validate()
    {
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "Port must be 0 (any free port) or 1-65535.");
        }

        if (MaxRequestBodyBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRequestBodyBytes), MaxRequestBodyBytes, "The body limit must be at least 1 KiB.");
        }

        if (WatchHistoryCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WatchHistoryCapacity), WatchHistoryCapacity, "The watch history must hold at least one event.");
        }

        if (DefaultWatchTimeout <= TimeSpan.Zero || BookmarkInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultWatchTimeout), "Watch timeout and bookmark interval must be positive.");
        }
    }
}
