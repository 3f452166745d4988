using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Quotas;

/// <summary>Dollars asked of a key's budget for the period holding the request's time.</summary>
/// <param name="Cap">The key's budget for one period.</param>
/// <param name="Want">How much to lease.</param>
/// <param name="Charge">Spend already made without a lease, added unconditionally.</param>
public readonly record struct QuotaBudgetAsk(BudgetPeriodKind Period, decimal Cap, decimal Want, decimal Charge = 0)
{
    /// <summary>
    /// What of its lease of this period the replica has not settled yet (after <see cref="Charge"/>;
    /// spend in flight counts as not settled), so that a lease reclaimed while the replica was taken
    /// for dead is given back for what it had not spent (migration 0012). Null when the caller does not
    /// keep count: the ledger then takes the whole lease as still held.
    /// </summary>
    public decimal? Held { get; init; }
}
