using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Quotas;

/// <summary>Unused leases a replica gives back (an idle key, or shutdown).</summary>
/// <param name="WindowStart">The minute window the requests and tokens were leased in.</param>
public sealed record QuotaReturn(string KeyId, string ReplicaId, DateTimeOffset WindowStart)
{
    public long Requests { get; init; }

    public long Tokens { get; init; }

    public BudgetPeriodKind BudgetPeriod { get; init; }

    /// <summary>The period the dollars were leased in; null returns no dollars.</summary>
    public DateTimeOffset? BudgetPeriodStart { get; init; }

    public decimal BudgetUsd { get; init; }

    /// <summary>
    /// What of its dollar lease the replica has not settled after this return (spend in flight), as
    /// <see cref="QuotaBudgetAsk.Held"/>; null when the caller does not keep count.
    /// </summary>
    public decimal? BudgetHeld { get; init; }

    public int Slots { get; init; }

    /// <summary>
    /// The parallel slots of the key the replica still holds after this return; null when the caller
    /// does not keep count. When set, the ledger counts no more than this for the replica instead of
    /// taking <see cref="Slots"/> off its count: sent again, the return frees nothing twice, and slots
    /// left counted by a return whose outcome was lost (<see cref="QuotaOutcomeUnknownException"/>) go
    /// back with it.
    /// </summary>
    public int? SlotsKept { get; init; }

    public bool IsEmpty => Requests <= 0 && Tokens <= 0 && (BudgetPeriodStart is null || BudgetUsd <= 0) && Slots <= 0 && SlotsKept is null;
}
