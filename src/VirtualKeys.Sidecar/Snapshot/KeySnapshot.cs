namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// An immutable set of serving keys. Readers take the current instance without locking; the single
/// writer builds a new one per run of changes (copy-on-write: changes are rare, lookups are per request).
/// </summary>
internal sealed class KeySnapshot
{
    private readonly Dictionary<string, ServingKey> _byId;
    private readonly Dictionary<string, ServingKey>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    private KeySnapshot(Dictionary<string, ServingKey> byId)
    {
        _byId = byId;
        _bySpan = byId.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static KeySnapshot Empty { get; } = new(new Dictionary<string, ServingKey>(StringComparer.Ordinal));

    public int Count => _byId.Count;

    public IEnumerable<ServingKey> Keys => _byId.Values;

    public static KeySnapshot Create(IEnumerable<ServingKey> keys)
    {
        var byId = new Dictionary<string, ServingKey>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            byId[key.KeyId] = key;
        }

        return new KeySnapshot(byId);
    }

    public bool TryGet(ReadOnlySpan<char> keyId, out ServingKey key) => _bySpan.TryGetValue(keyId, out key!);

    /// <summary>
    /// One new snapshot for a run of changes, in order (a null key removes the id): the copy of the
    /// whole set is made once per run, not once per change, which matters when thousands of keys
    /// change together.
    /// </summary>
    public KeySnapshot WithChanges(IReadOnlyCollection<(string KeyId, ServingKey? Key)> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Count == 0)
        {
            return this;
        }

        var byId = new Dictionary<string, ServingKey>(_byId, StringComparer.Ordinal);
        foreach (var (keyId, key) in changes)
        {
            if (key is null)
            {
                byId.Remove(keyId);
            }
            else
            {
                byId[keyId] = key;
            }
        }

        return new KeySnapshot(byId);
    }
}
