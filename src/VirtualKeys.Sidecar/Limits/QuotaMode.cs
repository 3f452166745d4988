namespace VirtualKeys.Sidecar.Limits;

/// <summary>Where a sidecar keeps its limit counters (setting <c>Quota:Mode</c>).</summary>
public enum QuotaMode
{
    /// <summary>Leases from the registry's PostgreSQL, so limits hold across every replica sharing it.</summary>
    Shared,

    /// <summary>In this process only: exact for a single replica, no database round trips.</summary>
    Local,
}
