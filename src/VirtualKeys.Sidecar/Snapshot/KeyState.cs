namespace VirtualKeys.Sidecar.Snapshot;

public enum KeyState
{
    Active,
    Suspended,

    /// <summary>Deleted in the registry but kept so that its tokens answer 401 instead of looking unknown to metrics.</summary>
    Tombstoned,
}
