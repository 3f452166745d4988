namespace VirtualKeys.Sidecar.Limits;

/// <summary>How a shared quota store is doing, for /readyz and metrics.</summary>
/// <param name="Degraded">PostgreSQL is unreachable: each key is limited to this replica's share.</param>
/// <param name="LiveReplicas">Replicas sharing the limits at the last heartbeat (1 before the first).</param>
/// <param name="RoundTrips">Database round trips made for quotas so far.</param>
public readonly record struct QuotaHealth(bool Degraded, int LiveReplicas, long RoundTrips);
