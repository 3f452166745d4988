namespace VirtualKeys.Sidecar.Snapshot;

public sealed class KeySnapshotChange
{
    private KeySnapshotChange(KeySnapshotChangeKind kind, IReadOnlyList<VirtualKeyEntry>? entries, VirtualKeyEntry? entry, string? keyId)
    {
        Kind = kind;
        Entries = entries ?? [];
        Entry = entry;
        KeyId = keyId ?? entry?.KeyId;
        Changes = [];
    }

    private KeySnapshotChange(IReadOnlyList<KeySnapshotChange> changes)
        : this(KeySnapshotChangeKind.Changes, null, null, null)
    {
        Changes = changes;
    }

    public static KeySnapshotChange Heartbeat { get; } = new(KeySnapshotChangeKind.Heartbeat, null, null, null);

    public KeySnapshotChangeKind Kind { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Reload"/>.</summary>
    public IReadOnlyList<VirtualKeyEntry> Entries { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Upsert"/>.</summary>
    public VirtualKeyEntry? Entry { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Upsert"/> and <see cref="KeySnapshotChangeKind.Remove"/>.</summary>
    public string? KeyId { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Changes"/>: upserts and removals, in order.</summary>
    public IReadOnlyList<KeySnapshotChange> Changes { get; }

    public static KeySnapshotChange Reload(IReadOnlyList<VirtualKeyEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return new(KeySnapshotChangeKind.Reload, entries, null, null);
    }

    public static KeySnapshotChange Upsert(VirtualKeyEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new(KeySnapshotChangeKind.Upsert, null, entry, null);
    }

    public static KeySnapshotChange Remove(string keyId)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        return new(KeySnapshotChangeKind.Remove, null, null, keyId);
    }

    /// <summary>
    /// Upserts and removals to apply together as one snapshot; a single change is returned as it is.
    /// </summary>
    public static KeySnapshotChange Together(IReadOnlyList<KeySnapshotChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var change in changes)
        {
            if (change.Kind is not (KeySnapshotChangeKind.Upsert or KeySnapshotChangeKind.Remove))
            {
                throw new ArgumentException($"Only upserts and removals go together, not {change.Kind}.", nameof(changes));
            }
        }

        return changes.Count == 1 ? changes[0] : new KeySnapshotChange([.. changes]);
    }
}
