using VirtualKeys.Registry.Quotas;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// A quota store whose replica must be known alive to the others (the shared store), so that
/// statements the sidecar sends anyway (usage batches) can carry its presence instead of a heartbeat.
/// </summary>
public interface IQuotaPresence
{
    /// <summary>The presence to carry now; null while the replica need not be known alive.</summary>
    ReplicaPresence? PresenceToCarry();

    /// <summary>What PostgreSQL answered for a carried presence.</summary>
    /// <param name="present">Refreshed; false when it had lapsed (only a heartbeat brings it back).</param>
    void PresenceCarried(ReplicaPresence presence, bool present, int liveReplicas);
}
