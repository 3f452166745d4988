namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>When a request of a steady load was sent, relative to the PostgreSQL outage.</summary>
internal enum LoadPhase
{
    Before,
    Outage,
    After,
}
