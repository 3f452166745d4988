namespace VirtualKeys.Registry.Quotas;

/// <param name="Rejoined">This replica's heartbeat had lapsed (or it is new): the slots it held were dropped.</param>
/// <param name="LiveReplicas">Replicas seen within the liveness interval, this one included.</param>
public readonly record struct QuotaHeartbeat(bool Rejoined, int LiveReplicas);
