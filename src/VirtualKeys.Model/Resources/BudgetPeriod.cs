namespace VirtualKeys.Model;

/// <summary>How often a budget resets.</summary>
public enum BudgetPeriod
{
    Daily,
    Weekly,
    Monthly,
    Total,
}
