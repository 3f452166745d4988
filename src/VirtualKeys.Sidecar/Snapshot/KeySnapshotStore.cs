using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Hosting;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>Holds the snapshot being served and how fresh it is. One writer (the sync service), many readers.</summary>
internal sealed partial class KeySnapshotStore
{
    private readonly TimeProvider _time;
    private readonly ILogger<KeySnapshotStore> _logger;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile KeySnapshot _current = KeySnapshot.Empty;
    private SnapshotInterner _interner = new();
    private long _confirmedAtTicks;
    private volatile bool _degraded;

    public KeySnapshotStore([FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time, ILogger<KeySnapshotStore> logger)
    {
        _time = time;
        _logger = logger;
    }

    public KeySnapshot Current => _current;

    public bool IsLoaded => _loaded.Task.IsCompleted;

    public Task Loaded => _loaded.Task;

    /// <summary>True while the source is unreachable and the sidecar serves its last snapshot.</summary>
    public bool IsDegraded => _degraded;

    /// <summary>Time since the source last confirmed the snapshot; null before the first load.</summary>
    public TimeSpan? Age => IsLoaded
        ? _time.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref _confirmedAtTicks), TimeSpan.Zero)
        : null;

    public void MarkDegraded() => _degraded = true;

    public void Apply(KeySnapshotChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        switch (change.Kind)
        {
            case KeySnapshotChangeKind.Reload:
                Rebuild(change.Entries);

                // Confirmed and healthy before it counts as loaded, and not stamped again after: a reader
                // released by the load (which may run on at once, on another thread) reads the age of this
                // load, not of a stamp that lands after it.
                Interlocked.Exchange(ref _confirmedAtTicks, _time.GetUtcNow().UtcTicks);
                _degraded = false;
                _loaded.TrySetResult();
                Log.SnapshotLoaded(_logger, _current.Count);
                return;
            case KeySnapshotChangeKind.Upsert:
            case KeySnapshotChangeKind.Remove:
                ApplyTogether([change]);
                break;
            case KeySnapshotChangeKind.Changes:
                ApplyTogether(change.Changes);
                break;
            case KeySnapshotChangeKind.Heartbeat:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(change), change.Kind, "Unknown snapshot change kind.");
        }

        Interlocked.Exchange(ref _confirmedAtTicks, _time.GetUtcNow().UtcTicks);
        _degraded = false;
    }

    /// <summary>Upserts and removals in order, published as one snapshot: readers see all of them or none.</summary>
    private void ApplyTogether(IReadOnlyList<KeySnapshotChange> changes)
    {
        var compiled = new List<(string KeyId, ServingKey? Key)>(changes.Count);
        foreach (var change in changes)
        {
            // A key that does not compile is not served, like a removed one.
            compiled.Add((change.KeyId!, change.Kind == KeySnapshotChangeKind.Upsert ? Compile(change.Entry!) : null));
        }

        _current = _current.WithChanges(compiled);
        ShedReplacedValues();
    }

    /// <summary>
    /// Upserts only add to the interner, so the providers (credentials included) of replaced keys stay in it;
    /// once it has outgrown the last load, the snapshot is rebuilt from the keys served now.
    /// </summary>
    private void ShedReplacedValues()
    {
        if (_interner.HasOutgrownLoad)
        {
            Rebuild([.. _current.Keys.Select(key => key.Entry)]);
        }
    }

    /// <summary>Compiles every entry with a fresh interner, then compacts the heap the old snapshot leaves behind.</summary>
    private void Rebuild(IReadOnlyList<VirtualKeyEntry> entries)
    {
        _interner = new SnapshotInterner();
        _current = KeySnapshot.Create(entries.Select(Compile).OfType<ServingKey>());
        _interner.MarkLoaded();
        LoadedHeapCompaction.AfterLoad(_current.Count);
    }

    private ServingKey? Compile(VirtualKeyEntry entry)
    {
        if (!VirtualKeyId.IsValid(entry.KeyId))
        {
            Log.KeySkipped(_logger, entry.Namespace, entry.Name, $"the key id is not {VirtualKeyId.Length} characters of a-z and 2-7");
            return null;
        }

        var providers = new List<ServingProvider>(entry.Providers.Count);
        foreach (var provider in entry.Providers)
        {
            var serving = _interner.Prepared(provider, out var problem);
            if (serving is null)
            {
                Log.ProviderSkipped(_logger, entry.Namespace, entry.Name, provider.Name, problem!);
            }
            else
            {
                providers.Add(serving);
            }
        }

        return new ServingKey(entry, [.. providers], _interner);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Serving a snapshot of {KeyCount} virtual keys")]
        public static partial void SnapshotLoaded(ILogger logger, int keyCount);

        [LoggerMessage(2, LogLevel.Warning, "Virtual key {Namespace}/{Name} is not served: {Problem}")]
        public static partial void KeySkipped(ILogger logger, string @namespace, string name, string problem);

        [LoggerMessage(3, LogLevel.Warning, "Provider {Provider} of virtual key {Namespace}/{Name} is not used: {Problem}")]
        public static partial void ProviderSkipped(ILogger logger, string @namespace, string name, string provider, string problem);
    }
}
