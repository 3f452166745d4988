namespace VirtualKeys.Registry.Quotas;

/// <summary>
/// A sidecar replica's presence for the shared quota counters, carried by a statement the replica
/// sends anyway (a grant, a usage batch) instead of a heartbeat of its own. It is refreshed only if it
/// has not lapsed: a lapsed replica rejoins through <see cref="QuotaLedger.HeartbeatAsync"/>.
/// </summary>
/// <param name="Now">The replica's clock.</param>
/// <param name="ReplicaTtl">A replica not seen for this long is dead.</param>
public readonly record struct ReplicaPresence(string ReplicaId, DateTimeOffset Now, TimeSpan ReplicaTtl);
