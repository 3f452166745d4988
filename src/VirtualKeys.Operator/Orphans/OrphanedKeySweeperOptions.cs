namespace VirtualKeys.Operator.Orphans;

public sealed class OrphanedKeySweeperOptions
{
    /// <summary>The shortest time between two full sweeps, whatever the resync interval says.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Time between two full sweeps; the first runs when the operator starts leading. Taken from
    /// Operator__ResyncInterval; zero (resync off) sweeps every 10 minutes, and nothing sweeps more
    /// often than <see cref="MinimumInterval"/>: a sweep reads every live key of the registry.
    /// </summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The namespaces the operator watches; empty for all. Registry keys elsewhere are never swept.</summary>
    public IReadOnlyList<string> WatchNamespaces { get; set; } = [];

    /// <summary>
    /// The most orphaned keys one full sweep revokes (Operator__OrphanSweepLimit). A sweep that finds
    /// more revokes none and says so: an operator pointed at the wrong cluster, or at a new one whose
    /// VirtualKeys are not applied yet, would otherwise revoke every key of the registry at once.
    /// Deletes the informer sees are checked one by one and not counted here.
    /// </summary>
    public int MaxRevocationsPerSweep { get; set; } = 10;

    /// <summary>The interval a sweeper uses for <paramref name="resyncInterval"/>.</summary>
    public static TimeSpan IntervalFor(TimeSpan resyncInterval) =>
        resyncInterval <= TimeSpan.Zero ? TimeSpan.FromMinutes(10)
        : resyncInterval < MinimumInterval ? MinimumInterval
        : resyncInterval;
}
