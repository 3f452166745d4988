namespace VirtualKeys.Operator.Orphans;

public sealed class OrphanedKeySweeperOptions
{
    /// <summary>Time between two sweeps; the first runs when the operator starts leading (Operator__ResyncInterval).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The namespaces the operator watches; empty for all. Registry keys elsewhere are never swept.</summary>
    public IReadOnlyList<string> WatchNamespaces { get; set; } = [];
}
