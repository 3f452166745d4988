namespace VirtualKeys.Operator.Usage;

public sealed class UsageSyncerOptions
{
    /// <summary>Minimum interval between two usage writes to one key's status (Operator__UsageSyncInterval).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Global cap on the syncer's status writes per second (Operator__UsageSyncQps).</summary>
    public double Qps { get; set; } = 20;
}
