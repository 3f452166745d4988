namespace VirtualKeys.Registry.Protection;

/// <summary>
/// The KEK that encrypts new key ring elements (<see cref="Current"/>) and the KEKs still accepted for
/// reading (<see cref="Previous"/>) while a KEK replacement rolls out: every element is opened with the
/// KEK whose id it carries, so replicas with the old and the new KEK first can run side by side.
/// </summary>
/// <remarks>
/// Credential fingerprints are always derived from <see cref="Current"/>. A previous KEK is never used
/// to encrypt anything; once <see cref="KekReplacement"/> has re-wrapped the ring, drop it.
/// </remarks>
public sealed class KeyEncryptionKeys : IDisposable
{
    private KeyEncryptionKeys(KeyEncryptionKey current, IReadOnlyList<KeyEncryptionKey> previous)
    {
        Current = current;
        Previous = previous;
    }

    public KeyEncryptionKey Current { get; }

    public IReadOnlyList<KeyEncryptionKey> Previous { get; }

    /// <summary>Loads the current KEK and the previous ones; blank paths are ignored, and so is a file holding a key already loaded.</summary>
    /// <exception cref="RegistryProtectionException">One of the files is missing, unreadable or malformed; its path is named.</exception>
    public static KeyEncryptionKeys Load(string currentPath, IEnumerable<string?>? previousPaths = null)
    {
        var current = KeyEncryptionKey.Load(currentPath);
        var previous = new List<KeyEncryptionKey>();
        try
        {
            foreach (var path in previousPaths ?? [])
            {
                if (!string.IsNullOrWhiteSpace(path))
                {
                    previous.Add(KeyEncryptionKey.Load(path.Trim()));
                }
            }
        }
        catch
        {
            current.Dispose();
            previous.ForEach(key => key.Dispose());
            throw;
        }

        return From(current, previous);
    }

    /// <summary>Takes ownership of the keys given: disposing the set disposes them.</summary>
    public static KeyEncryptionKeys From(KeyEncryptionKey current, params IEnumerable<KeyEncryptionKey> previous)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(previous);
        var kept = new List<KeyEncryptionKey>();
        foreach (var key in previous)
        {
            if (key.Id == current.Id || kept.Any(other => other.Id == key.Id))
            {
                key.Dispose();
                continue;
            }

            kept.Add(key);
        }

        return new KeyEncryptionKeys(current, kept);
    }

    /// <summary>
    /// Splits a list setting such as <c>Registry:PreviousKekFiles</c> written as one value
    /// (<c>/kek-old/kek,/kek-older/kek</c>); commas separate paths.
    /// </summary>
    public static IReadOnlyList<string> SplitPathList(string? setting) =>
        string.IsNullOrWhiteSpace(setting)
            ? []
            : [.. setting.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>The loaded KEK with that id, current or previous; null when none is.</summary>
    public KeyEncryptionKey? Find(string? kekId) =>
        kekId is null ? null : Current.Id == kekId ? Current : Previous.FirstOrDefault(key => key.Id == kekId);

    public void Dispose()
    {
        Current.Dispose();
        foreach (var key in Previous)
        {
            key.Dispose();
        }
    }

    /// <summary>"FILE (id ID)" for each loaded KEK, for messages: paths and one-way ids only, never key material.</summary>
    internal string Describe() =>
        string.Join(", ", new[] { Current }.Concat(Previous).Select(key => $"{key.Source} (id {key.Id})"));
}
