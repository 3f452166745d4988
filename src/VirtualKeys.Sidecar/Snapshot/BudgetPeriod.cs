namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>Budget periods roll over on UTC boundaries; weeks start on Monday (ISO 8601).</summary>
public enum BudgetPeriod
{
    Daily,
    Weekly,
    Monthly,
    Total,
}
