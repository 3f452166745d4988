using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Quotas;

/// <summary>Dollars asked of a key's budget for the period holding the request's time.</summary>
/// <param name="Cap">The key's budget for one period.</param>
/// <param name="Want">How much to lease.</param>
/// <param name="Charge">Spend already made without a lease, added unconditionally.</param>
public readonly record struct QuotaBudgetAsk(BudgetPeriodKind Period, decimal Cap, decimal Want, decimal Charge = 0);
