namespace VirtualKeys.Registry.Usage;

public enum BudgetPeriodKind
{
    Daily,

    /// <summary>ISO weeks: Monday 00:00 UTC to the next Monday.</summary>
    Weekly,
    Monthly,

    /// <summary>One period for the key's whole life.</summary>
    Total,
}
