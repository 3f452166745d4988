namespace VirtualKeys.Registry.Quotas;

/// <param name="Rejoined">
/// This replica's heartbeat had lapsed (or it is new): the slots it held were dropped, and its dollar
/// leases may have been given back to the pools meanwhile (migration 0012; its next grant of a key says
/// what is still its own).
/// </param>
/// <param name="LiveReplicas">Replicas seen within the liveness interval, this one included.</param>
public readonly record struct QuotaHeartbeat(bool Rejoined, int LiveReplicas);
