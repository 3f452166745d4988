namespace VirtualKeys.Registry.Quotas;

/// <summary>One replica's refill of one key's leases; the dimensions left null are not touched.</summary>
/// <param name="Now">The replica's clock: it picks the minute window and the budget period.</param>
public sealed record QuotaGrantRequest(string KeyId, string ReplicaId, DateTimeOffset Now)
{
    public QuotaWindowAsk? Requests { get; init; }

    public QuotaWindowAsk? Tokens { get; init; }

    public QuotaBudgetAsk? Budget { get; init; }

    public QuotaSlotAsk? Slots { get; init; }
}
