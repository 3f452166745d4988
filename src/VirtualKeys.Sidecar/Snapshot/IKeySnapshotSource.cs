namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// Feeds the sidecar's in-memory snapshot. One method rather than load + watch so the source can
/// subscribe before it reads (LISTEN, then SELECT) and no change falls between the two.
/// </summary>
public interface IKeySnapshotSource
{
    /// <summary>
    /// The first item must be a <see cref="KeySnapshotChangeKind.Reload"/> with every key; after it,
    /// incremental changes in order. When the sequence ends or throws, the sidecar keeps serving what it
    /// has (degraded) and subscribes again with backoff, so a source never needs to replay history.
    /// </summary>
    IAsyncEnumerable<KeySnapshotChange> SubscribeAsync(CancellationToken cancellationToken);
}
