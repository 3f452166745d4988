namespace VirtualKeys.Sidecar.Snapshot;

public enum KeySnapshotChangeKind
{
    /// <summary>The complete set of keys; replaces whatever was served before.</summary>
    Reload,
    Upsert,
    Remove,

    /// <summary>
    /// Upserts and removals the source read together (one registry read, one healing comparison):
    /// applied in order as one new snapshot, so a thousand keys changed together copy the key set once.
    /// </summary>
    Changes,

    /// <summary>The source confirms the served snapshot is current (drives the snapshot-age metric).</summary>
    Heartbeat,
}
