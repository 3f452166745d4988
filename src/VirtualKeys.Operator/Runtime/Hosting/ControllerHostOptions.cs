using VirtualKeys.Operator.Runtime.Leadership;

namespace VirtualKeys.Operator.Runtime.Hosting;

public sealed class ControllerHostOptions
{
    /// <summary>Namespaces every informer watches unless its own options say otherwise; empty is all namespaces.</summary>
    public IList<string> WatchNamespaces { get; set; } = [];

    /// <summary>
    /// How long a graceful shutdown lets running reconciles finish before cancelling them. Keep it
    /// below the host's <c>HostOptions.ShutdownTimeout</c> (30 s by default), which bounds the
    /// whole stop including the lease release.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public LeaderElectionOptions LeaderElection { get; set; } = new();

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DrainTimeout, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(LeaderElection);
        LeaderElection.Validate();
        foreach (var ns in WatchNamespaces)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(ns, nameof(WatchNamespaces));
        }
    }
}
