namespace VirtualKeys.Sidecar.Snapshot;

public enum KeySnapshotChangeKind
{
    /// <summary>The complete set of keys; replaces whatever was served before.</summary>
    Reload,
    Upsert,
    Remove,

    /// <summary>The source confirms the served snapshot is current (drives the snapshot-age metric).</summary>
    Heartbeat,
}
