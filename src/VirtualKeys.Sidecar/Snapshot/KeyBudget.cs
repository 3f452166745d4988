namespace VirtualKeys.Sidecar.Snapshot;

public sealed record KeyBudget(decimal MaxCostUsd, BudgetPeriod Period, int? AlertAtPercent = null);
