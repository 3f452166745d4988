namespace VirtualKeys.Registry.Quotas;

/// <summary>Parallel-request slots asked for; the slots held by all live replicas stay within <paramref name="Cap"/>.</summary>
public readonly record struct QuotaSlotAsk(int Cap, int Want);
