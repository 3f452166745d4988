using VirtualKeys.Model;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Operator.Usage;

/// <summary>
/// Budget arithmetic on what status.usage shows. The reconciler and the usage syncer both decide
/// "exhausted" here, so they never disagree about the Ready condition.
/// </summary>
public static class BudgetState
{
    /// <summary>The budget period a key's usage is shown for: its budget's, else the calendar month.</summary>
    public static BudgetPeriodKind PeriodOf(VirtualKey key) =>
        key.Spec?.Budget is { } budget ? RegistryMapping.PeriodKind(budget.Period) : BudgetPeriodKind.Monthly;

    public static decimal? Cap(VirtualKey key) =>
        key.Spec?.Budget is { } budget && UsdAmount.TryParse(budget.MaxCostUsd, out var max) && max > 0 ? max : null;

    /// <summary>Spend in the current period from status.usage; zero when the status shows an earlier period.</summary>
    public static decimal Spend(VirtualKey key, DateTimeOffset now)
    {
        var usage = key.Status?.Usage;
        if (usage?.PeriodStart is not { } start || start != VirtualKeys.Registry.Usage.BudgetPeriod.StartOf(PeriodOf(key), now))
        {
            return 0m;
        }

        return UsdAmount.TryParse(usage.CostUsd, out var cost) ? cost : 0m;
    }

    public static bool IsExhausted(VirtualKey key, DateTimeOffset now) =>
        Cap(key) is { } cap && Spend(key, now) >= cap;
}
