using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Keys;

/// <param name="AlertAtPercent">Share of the budget at which a warning is raised; null for none.</param>
public sealed record KeyBudget(decimal MaxCostUsd, BudgetPeriodKind Period, int? AlertAtPercent = null);
