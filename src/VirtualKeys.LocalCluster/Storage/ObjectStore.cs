using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Storage;

/// <summary>
/// The in-memory "etcd": every object of every kind under one lock, one cluster-wide
/// resourceVersion counter, a bounded history of changes for watch resumption, and the open
/// watchers. Writes are compare-and-swap on the snapshot a caller read, like a
/// GuaranteedUpdate against etcd; nothing slow (validation, serialisation of lists) runs
/// under the lock.
/// </summary>
internal sealed class ObjectStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SortedDictionary<string, StoredObject>> _buckets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredObject> _byUid = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, StoredObject>> _dependents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Watcher>> _watchers = new(StringComparer.Ordinal);
    private readonly WatchEvent?[] _history;
    private int _historyStart;
    private int _historyCount;
    private long _historyFloor;
    private long _revision;

    public ObjectStore(int historyCapacity)
    {
        _history = new WatchEvent?[Math.Max(1, historyCapacity)];
    }

    /// <summary>Raised after each commit, outside the lock, in commit order per caller.</summary>
    public event Action<WatchEvent>? Committed;

    public long CurrentRevision
    {
        get
        {
            lock (_lock)
            {
                return _revision;
            }
        }
    }

    public int WatcherCount
    {
        get
        {
            lock (_lock)
            {
                return _watchers.Values.Sum(w => w.Count);
            }
        }
    }

    public StoredObject? Get(string storageKey, string ns, string name)
    {
        lock (_lock)
        {
            return _buckets.TryGetValue(storageKey, out var bucket) && bucket.TryGetValue(Key(ns, name), out var stored) ? stored : null;
        }
    }

    public StoredObject? GetByUid(string uid)
    {
        lock (_lock)
        {
            return _byUid.GetValueOrDefault(uid);
        }
    }

    /// <summary>A consistent snapshot of a bucket (optionally one namespace), in key order.</summary>
    public (List<StoredObject> Items, long Revision) List(string storageKey, string? ns, string? startAfter = null)
    {
        lock (_lock)
        {
            var items = new List<StoredObject>();
            if (_buckets.TryGetValue(storageKey, out var bucket))
            {
                foreach (var (key, stored) in bucket)
                {
                    if ((ns is null || stored.Namespace == ns) && (startAfter is null || string.CompareOrdinal(key, startAfter) > 0))
                    {
                        items.Add(stored);
                    }
                }
            }

            return (items, _revision);
        }
    }

    public List<StoredObject> Dependents(string ownerUid)
    {
        lock (_lock)
        {
            return _dependents.TryGetValue(ownerUid, out var dependents) ? dependents.Values.ToList() : [];
        }
    }

    public List<StoredObject> InNamespace(string ns)
    {
        lock (_lock)
        {
            return _buckets.Values.SelectMany(b => b.Values).Where(o => o.Namespace == ns).ToList();
        }
    }

    public bool TryCreate(string storageKey, JsonObject node, out StoredObject stored)
    {
        WatchEvent watchEvent;
        lock (_lock)
        {
            var metadata = node["metadata"]!.AsObject();
            var key = Key((string?)metadata["namespace"] ?? "", (string?)metadata["name"] ?? "");
            if (!_buckets.TryGetValue(storageKey, out var bucket))
            {
                bucket = new SortedDictionary<string, StoredObject>(StringComparer.Ordinal);
                _buckets[storageKey] = bucket;
            }

            if (bucket.TryGetValue(key, out var existing))
            {
                stored = existing;
                return false;
            }

            metadata["resourceVersion"] = (++_revision).ToString(System.Globalization.CultureInfo.InvariantCulture);
            stored = new StoredObject(storageKey, node, _revision);
            bucket[key] = stored;
            Index(stored);
            watchEvent = new WatchEvent(WatchEventType.Added, stored, null);
            Publish(watchEvent);
        }

        Committed?.Invoke(watchEvent);
        return true;
    }

    /// <summary>Replaces <paramref name="current"/> unless someone else replaced it first.</summary>
    public bool TryReplace(StoredObject current, JsonObject node, out StoredObject stored)
    {
        WatchEvent watchEvent;
        lock (_lock)
        {
            if (!IsCurrent(current, out var bucket))
            {
                stored = current;
                return false;
            }

            node["metadata"]!.AsObject()["resourceVersion"] = (++_revision).ToString(System.Globalization.CultureInfo.InvariantCulture);
            stored = new StoredObject(current.StorageKey, node, _revision);
            bucket[current.Key] = stored;
            Unindex(current);
            Index(stored);
            watchEvent = new WatchEvent(WatchEventType.Modified, stored, current);
            Publish(watchEvent);
        }

        Committed?.Invoke(watchEvent);
        return true;
    }

    /// <summary>Removes <paramref name="current"/>; the DELETED event carries <paramref name="finalState"/> at a new revision.</summary>
    public bool TryRemove(StoredObject current, JsonObject finalState, out StoredObject removed)
    {
        WatchEvent watchEvent;
        lock (_lock)
        {
            if (!IsCurrent(current, out var bucket))
            {
                removed = current;
                return false;
            }

            finalState["metadata"]!.AsObject()["resourceVersion"] = (++_revision).ToString(System.Globalization.CultureInfo.InvariantCulture);
            removed = new StoredObject(current.StorageKey, finalState, _revision);
            bucket.Remove(current.Key);
            Unindex(current);
            watchEvent = new WatchEvent(WatchEventType.Deleted, removed, current);
            Publish(watchEvent);
        }

        Committed?.Invoke(watchEvent);
        return true;
    }

    /// <summary>
    /// Registers a watcher atomically with the events it must replay: history after
    /// <paramref name="sinceRevision"/>, or synthetic ADDED events for the current state.
    /// </summary>
    public Watcher Subscribe(string storageKey, string? ns, long? sinceRevision, bool initialState)
    {
        lock (_lock)
        {
            if (sinceRevision is { } since && !initialState && since < _historyFloor)
            {
                throw ApiErrors.Expired($"too old resource version: {since} ({_historyFloor})");
            }

            var watcher = new Watcher(storageKey, ns, _revision);
            if (initialState)
            {
                if (_buckets.TryGetValue(storageKey, out var bucket))
                {
                    foreach (var stored in bucket.Values)
                    {
                        if (watcher.Matches(stored))
                        {
                            watcher.Offer(new WatchEvent(WatchEventType.Added, stored, null));
                            watcher.InitialEventCount++;
                        }
                    }
                }
            }
            else if (sinceRevision is { } from)
            {
                for (var i = 0; i < _historyCount; i++)
                {
                    var past = _history[(_historyStart + i) % _history.Length]!;
                    if (past.ResourceVersion > from && watcher.Matches(past.Object))
                    {
                        watcher.Offer(past);
                    }
                }
            }

            if (!_watchers.TryGetValue(storageKey, out var list))
            {
                list = [];
                _watchers[storageKey] = list;
            }

            list.Add(watcher);
            return watcher;
        }
    }

    public void Unsubscribe(Watcher watcher)
    {
        lock (_lock)
        {
            if (_watchers.TryGetValue(watcher.StorageKey, out var list))
            {
                list.Remove(watcher);
            }
        }

        watcher.Close();
    }

    /// <summary>The revision a bookmark may report: everything up to it has been queued to the watcher.</summary>
    public long BookmarkRevision(Watcher watcher)
    {
        lock (_lock)
        {
            return watcher.Events.Count == 0 ? _revision : watcher.StartRevision;
        }
    }

    public int DropAllWatchers()
    {
        List<Watcher> all;
        lock (_lock)
        {
            all = _watchers.Values.SelectMany(w => w).ToList();
            _watchers.Clear();
        }

        foreach (var watcher in all)
        {
            watcher.Close();
        }

        return all.Count;
    }

    /// <summary>Forgets all history, as an etcd compaction would: resuming from any older revision answers 410.</summary>
    public void ExpireHistory()
    {
        lock (_lock)
        {
            Array.Clear(_history);
            _historyStart = 0;
            _historyCount = 0;
            _historyFloor = _revision;
        }
    }

    private bool IsCurrent(StoredObject current, out SortedDictionary<string, StoredObject> bucket)
    {
        return _buckets.TryGetValue(current.StorageKey, out bucket!)
            && bucket.TryGetValue(current.Key, out var existing)
            && ReferenceEquals(existing, current);
    }

    private void Publish(WatchEvent watchEvent)
    {
        if (_historyCount == _history.Length)
        {
            _historyFloor = _history[_historyStart]!.ResourceVersion;
            _history[_historyStart] = watchEvent;
            _historyStart = (_historyStart + 1) % _history.Length;
        }
        else
        {
            _history[(_historyStart + _historyCount) % _history.Length] = watchEvent;
            _historyCount++;
        }

        if (_watchers.TryGetValue(watchEvent.Object.StorageKey, out var list))
        {
            foreach (var watcher in list)
            {
                if (watcher.Matches(watchEvent.Object))
                {
                    watcher.Offer(watchEvent);
                }
            }
        }
    }

    private void Index(StoredObject stored)
    {
        if (stored.Uid.Length > 0)
        {
            _byUid[stored.Uid] = stored;
        }

        foreach (var owner in stored.Owners)
        {
            if (!_dependents.TryGetValue(owner.Uid, out var dependents))
            {
                dependents = new Dictionary<string, StoredObject>(StringComparer.Ordinal);
                _dependents[owner.Uid] = dependents;
            }

            dependents[stored.Uid] = stored;
        }
    }

    private void Unindex(StoredObject stored)
    {
        _byUid.Remove(stored.Uid);
        foreach (var owner in stored.Owners)
        {
            if (_dependents.TryGetValue(owner.Uid, out var dependents))
            {
                dependents.Remove(stored.Uid);
                if (dependents.Count == 0)
                {
                    _dependents.Remove(owner.Uid);
                }
            }
        }
    }

    private static string Key(string ns, string name) => ns.Length == 0 ? name : ns + "/" + name;
}
