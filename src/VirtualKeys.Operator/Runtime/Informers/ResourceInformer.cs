using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Queues;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// Keeps a local cache of one kind in step with the API server: lists, then watches from the
/// list's resource version, resumes a closed watch from the last version seen, relists when the
/// server answers 410 Gone (handing the handlers the adds, updates and deletes that happened
/// meanwhile), backs off on errors, and re-delivers the whole cache every resync period.
/// One list+watch runs per configured namespace, or one for all namespaces.
/// </summary>
public sealed class ResourceInformer<T> : IResourceInformer<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    /// <summary>A watch that ends sooner than this without a single event counts as a failure, so a server that drops watches at once is not hammered.</summary>
    private static readonly TimeSpan MinimumHealthyWatch = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, T> _store = new(StringComparer.Ordinal);
    private readonly Lock _dispatchLock = new();
    private readonly List<IResourceEventHandler<T>> _handlers = [];
    private readonly IListWatcher<T> _listWatcher;
    private readonly InformerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<string> _syncedScopes = [];
    private readonly ConcurrentDictionary<string, string> _listErrors = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<string?> _scopes;
    private int _running;

    public ResourceInformer(
        IListWatcher<T> listWatcher,
        InformerOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<ResourceInformer<T>>? logger = null)
    {
        _listWatcher = listWatcher ?? throw new ArgumentNullException(nameof(listWatcher));
        _options = options ?? new InformerOptions();
        _options.Validate();
        _scopes = _options.Namespaces.Count == 0
            ? [null]
            : [.. _options.Namespaces.Distinct(StringComparer.Ordinal)];
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    public string Kind => _listWatcher.Kind;

    public bool HasSynced => _synced.Task.IsCompleted;

    public IReadOnlyList<UnsyncedScope> Unsynced
    {
        get
        {
            lock (_syncedScopes)
            {
                return [.. _scopes
                    .Where(scope => !_syncedScopes.Contains(scope ?? string.Empty))
                    .Select(scope => new UnsyncedScope(Kind, scope, _listErrors.TryGetValue(scope ?? string.Empty, out var error) ? error : null))];
            }
        }
    }

    public int Count => _store.Count;

    /// <summary>
    /// Registers a handler. One added after objects are cached first receives each of them as
    /// an add, so a late handler sees the same world as an early one.
    /// </summary>
    public void AddEventHandler(IResourceEventHandler<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_dispatchLock)
        {
            _handlers.Add(handler);
            foreach (var obj in _store.Values)
            {
                Invoke(handler, h => h.OnAdded(obj), obj);
            }
        }
    }

    public T? Get(string? @namespace, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _store.TryGetValue(Key(@namespace, name), out var obj) ? obj : null;
    }

    public T? Get(ReconcileRequest request) => Get(request.Namespace, request.Name);

    public IReadOnlyList<T> List() => [.. _store.Values];

    public IReadOnlyList<T> List(string? @namespace) =>
        [.. _store.Values.Where(o => string.Equals(NamespaceOf(o), NullIfEmpty(@namespace), StringComparison.Ordinal))];

    public Task WaitForCacheSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            throw new InvalidOperationException($"The {Kind} informer is already running.");
        }

        var loops = _scopes.Select(scope => Task.Run(() => ListAndWatchAsync(scope, _scopes.Count, cancellationToken), CancellationToken.None)).ToList();
        if (_options.ResyncPeriod > TimeSpan.Zero)
        {
            loops.Add(Task.Run(() => ResyncAsync(cancellationToken), CancellationToken.None));
        }

        await Task.WhenAll(loops);
    }

    private async Task ListAndWatchAsync(string? scope, int scopeCount, CancellationToken cancellationToken)
    {
        string? resourceVersion = null;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    var list = await _listWatcher.ListAsync(scope, cancellationToken);
                    Replace(scope, list.Items);
                    resourceVersion = list.ResourceVersion;
                    InformerLog.Listed(_logger, Kind, scope ?? "*", list.Items.Count, resourceVersion);
                    MarkSynced(scope, scopeCount);

                    // The server answered: an outage's climb toward the maximum delay ends here, or a
                    // watch that closes at once after a long outage would still wait out that delay.
                    // One failure is kept so 410s back to back, with no event between, still back off.
                    failures = Math.Min(failures, 1);
                }

                var started = _timeProvider.GetTimestamp();
                var received = 0;
                await foreach (var (type, obj) in _listWatcher.WatchAsync(scope, resourceVersion, _options.WatchTimeout, cancellationToken))
                {
                    received++;
                    failures = 0;
                    resourceVersion = Apply(type, obj) ?? resourceVersion;
                }

                if (received == 0 && _timeProvider.GetElapsedTime(started) < MinimumHealthyWatch)
                {
                    failures++;
                    var delay = Backoff(failures);
                    InformerLog.WatchClosedEarly(_logger, Kind, scope ?? "*", resourceVersion, delay);
                    await Task.Delay(delay, _timeProvider, cancellationToken);
                }
                else
                {
                    InformerLog.WatchClosed(_logger, Kind, scope ?? "*", resourceVersion);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (WatchErrors.IsGone(e))
            {
                InformerLog.Expired(_logger, Kind, scope ?? "*", resourceVersion);
                resourceVersion = null;

                // A first 410 relists at once; 410s back to back, with no event between, back off.
                if (failures++ > 0 && !await DelayAsync(Backoff(failures - 1), cancellationToken))
                {
                    break;
                }
            }
            catch (Exception e)
            {
                failures++;
                var delay = Backoff(failures);
                var error = WatchErrors.Describe(e);
                if (resourceVersion is null)
                {
                    // Kept for readiness until this scope lists: one namespace the operator may not
                    // list (a RoleBinding missing there) holds up every controller, and says why.
                    _listErrors[scope ?? string.Empty] = error;
                    InformerLog.ListFailed(_logger, e, Kind, scope ?? "*", error, delay);
                }
                else
                {
                    InformerLog.WatchFailed(_logger, e, Kind, scope ?? "*", resourceVersion, error, delay);
                }

                if (!await DelayAsync(delay, cancellationToken))
                {
                    break;
                }
            }
        }
    }

    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        while (await DelayAsync(_options.ResyncPeriod, cancellationToken))
        {
            if (!HasSynced)
            {
                continue;
            }

            lock (_dispatchLock)
            {
                foreach (var obj in _store.Values)
                {
                    Dispatch(h => h.OnUpdated(obj, obj), obj);
                }
            }

            InformerLog.Resynced(_logger, Kind, _store.Count);
        }
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _timeProvider, cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private TimeSpan Backoff(int failures) =>
        ItemExponentialBackoff<string>.Delay(_options.RetryBaseDelay, _options.RetryMaxDelay, Math.Max(0, failures - 1));

    /// <summary>Applies one watch event; returns the resource version it moves the watch to.</summary>
    private string? Apply(WatchEventType type, T obj)
    {
        var version = obj.Metadata?.ResourceVersion;
        if (type is WatchEventType.Bookmark or WatchEventType.Error || obj.Metadata?.Name is null)
        {
            return version;
        }

        var key = Key(obj);
        lock (_dispatchLock)
        {
            if (type == WatchEventType.Deleted)
            {
                _store.TryRemove(key, out _);
                Dispatch(h => h.OnDeleted(obj), obj);
            }
            else if (_store.TryGetValue(key, out var old))
            {
                _store[key] = obj;
                Dispatch(h => h.OnUpdated(old, obj), obj);
            }
            else
            {
                _store[key] = obj;
                Dispatch(h => h.OnAdded(obj), obj);
            }
        }

        return version;
    }

    /// <summary>
    /// Makes the cache of one scope equal to a fresh list, telling the handlers the difference:
    /// new objects as adds, objects at another resource version as updates, and objects the
    /// list no longer holds as deletes (their delete events were missed while away).
    /// </summary>
    private void Replace(string? scope, IReadOnlyList<T> items)
    {
        lock (_dispatchLock)
        {
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var obj in items)
            {
                if (obj.Metadata?.Name is null)
                {
                    continue;
                }

                var key = Key(obj);
                listed.Add(key);
                if (!_store.TryGetValue(key, out var old))
                {
                    _store[key] = obj;
                    Dispatch(h => h.OnAdded(obj), obj);
                }
                else if (!string.Equals(old.Metadata.ResourceVersion, obj.Metadata.ResourceVersion, StringComparison.Ordinal))
                {
                    _store[key] = obj;
                    Dispatch(h => h.OnUpdated(old, obj), obj);
                }
            }

            foreach (var (key, old) in _store)
            {
                if (!listed.Contains(key) && InScope(old, scope) && _store.TryRemove(key, out _))
                {
                    InformerLog.DeleteSynthesized(_logger, Kind, NamespaceOf(old) ?? string.Empty, old.Metadata.Name);
                    Dispatch(h => h.OnDeleted(old), old);
                }
            }
        }
    }

    private void MarkSynced(string? scope, int scopeCount)
    {
        lock (_syncedScopes)
        {
            _syncedScopes.Add(scope ?? string.Empty);
            _listErrors.TryRemove(scope ?? string.Empty, out _);
            if (_syncedScopes.Count == scopeCount && _synced.TrySetResult())
            {
                InformerLog.Synced(_logger, Kind, _store.Count);
            }
        }
    }

    private void Dispatch(Action<IResourceEventHandler<T>> deliver, T obj)
    {
        foreach (var handler in _handlers)
        {
            Invoke(handler, deliver, obj);
        }
    }

    private void Invoke(IResourceEventHandler<T> handler, Action<IResourceEventHandler<T>> deliver, T obj)
    {
        try
        {
            deliver(handler);
        }
        catch (Exception e)
        {
            // One faulty handler must not stop the cache or the other handlers.
            InformerLog.HandlerFailed(_logger, e, Kind, NamespaceOf(obj) ?? string.Empty, obj.Metadata?.Name ?? string.Empty);
        }
    }

    private static bool InScope(T obj, string? scope) =>
        scope is null || string.Equals(NamespaceOf(obj), scope, StringComparison.Ordinal);

    private static string? NamespaceOf(T obj) => NullIfEmpty(obj.Metadata?.NamespaceProperty);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string Key(T obj) => Key(obj.Metadata.NamespaceProperty, obj.Metadata.Name);

    private static string Key(string? @namespace, string name) =>
        string.IsNullOrEmpty(@namespace) ? name : string.Concat(@namespace, "/", name);
}
