namespace VirtualKeys.Sidecar.Snapshot;

public sealed class KeySnapshotChange
{
    private KeySnapshotChange(KeySnapshotChangeKind kind, IReadOnlyList<VirtualKeyEntry>? entries, VirtualKeyEntry? entry, string? keyId)
    {
        Kind = kind;
        Entries = entries ?? [];
        Entry = entry;
        KeyId = keyId ?? entry?.KeyId;
    }

    public static KeySnapshotChange Heartbeat { get; } = new(KeySnapshotChangeKind.Heartbeat, null, null, null);

    public KeySnapshotChangeKind Kind { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Reload"/>.</summary>
    public IReadOnlyList<VirtualKeyEntry> Entries { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Upsert"/>.</summary>
    public VirtualKeyEntry? Entry { get; }

    /// <summary>Set for <see cref="KeySnapshotChangeKind.Upsert"/> and <see cref="KeySnapshotChangeKind.Remove"/>.</summary>
    public string? KeyId { get; }

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
}
