namespace VirtualKeys.Registry.Quotas;

/// <summary>What a refill handed out; zero where the counter was used up or not asked.</summary>
/// <param name="WindowStart">The minute window the requests and tokens belong to.</param>
/// <param name="BudgetPeriodStart">The budget period the dollars belong to; null when no budget was asked.</param>
/// <param name="BudgetRemainingUsd">Dollars left in the pool after this grant; null when no budget was asked.</param>
public readonly record struct QuotaGrant(
    DateTimeOffset WindowStart,
    long Requests,
    long Tokens,
    DateTimeOffset? BudgetPeriodStart,
    decimal BudgetUsd,
    decimal? BudgetRemainingUsd,
    int Slots)
{
    /// <summary>Requests left in the window after this grant (migration 0004); null when none were asked.</summary>
    public long? RequestsLeft { get; init; }

    /// <summary>Tokens left in the window after this grant; null when none were asked.</summary>
    public long? TokensLeft { get; init; }

    /// <summary>
    /// Of the <see cref="QuotaBudgetAsk.Held"/> the replica said it holds, what is still leased to it
    /// (migration 0012): all of it, unless its lease was reclaimed while it was taken for dead (then
    /// none). The replica drops the rest. Null when no budget was asked.
    /// </summary>
    public decimal? BudgetKeptUsd { get; init; }

    /// <summary>
    /// The grant refreshed this replica's presence (migration 0005). False when the presence had
    /// lapsed or the replica never heartbeated: only a heartbeat brings it back.
    /// </summary>
    public bool Present { get; init; }

    /// <summary>Replicas alive when the grant was made, this one included if <see cref="Present"/>.</summary>
    public int LiveReplicas { get; init; }
}
