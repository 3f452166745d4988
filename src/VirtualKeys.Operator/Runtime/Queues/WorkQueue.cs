using VirtualKeys.Operator.Runtime.Metrics;

namespace VirtualKeys.Operator.Runtime.Queues;

/// <summary>
/// A work queue of keys in the manner of client-go's <c>workqueue</c>: a key waiting to be handed
/// out is held once however often it is added (the dirty set); a key being processed (the
/// processing set) is not handed out again until <see cref="Done"/>, and an add that arrives
/// meanwhile is kept and honoured at <see cref="Done"/>. So no key is ever worked on by two
/// workers, and no change is lost. Delayed adds run on the injected <see cref="TimeProvider"/>;
/// failed keys come back with per-key exponential backoff until <see cref="Forget"/>.
/// </summary>
public sealed class WorkQueue<TItem> : IDisposable
    where TItem : notnull
{
    private readonly Lock _lock = new();
    private readonly Queue<TItem> _ready = new();
    private readonly HashSet<TItem> _dirty = [];
    private readonly HashSet<TItem> _processing = [];
    private readonly LinkedList<TaskCompletionSource<(TItem Item, bool ShutDown)>> _getters = new();
    private readonly Dictionary<TItem, DelayedAdd> _delayed = [];
    private readonly ItemExponentialBackoff<TItem> _backoff;
    private readonly TimeProvider _timeProvider;
    private readonly ControllerMetrics? _metrics;
    private TaskCompletionSource? _drained;
    private bool _shuttingDown;
    private long _retries;

    public WorkQueue(WorkQueueOptions? options = null, TimeProvider? timeProvider = null, ControllerMetrics? metrics = null)
    {
        options ??= new WorkQueueOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Name);
        Name = options.Name;
        _backoff = new ItemExponentialBackoff<TItem>(options.RetryBaseDelay, options.RetryMaxDelay);
        _timeProvider = timeProvider ?? TimeProvider.System;
        _metrics = metrics;
    }

    public string Name { get; }

    /// <summary>Keys ready to be handed out now (the depth exported as a metric).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _ready.Count;
            }
        }
    }

    public int ProcessingCount
    {
        get
        {
            lock (_lock)
            {
                return _processing.Count;
            }
        }
    }

    /// <summary>Keys waiting for a delayed or backed-off add to come due.</summary>
    public int DelayedCount
    {
        get
        {
            lock (_lock)
            {
                return _delayed.Count;
            }
        }
    }

    /// <summary>Rate-limited re-adds since the queue was made.</summary>
    public long TotalRetries => Interlocked.Read(ref _retries);

    public bool IsShuttingDown
    {
        get
        {
            lock (_lock)
            {
                return _shuttingDown;
            }
        }
    }

    public void Add(TItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_lock)
        {
            if (_shuttingDown)
            {
                return;
            }

            _metrics?.QueueAdded(Name);
            if (!_dirty.Add(item) || _processing.Contains(item))
            {
                return;
            }

            _ready.Enqueue(item);
            DispatchLocked();
        }
    }

    /// <summary>
    /// Adds <paramref name="item"/> once <paramref name="delay"/> has passed. A key already waiting
    /// keeps the earlier of its two due times, so repeated delayed adds never push a key back.
    /// </summary>
    public void AddAfter(TItem item, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (delay <= TimeSpan.Zero)
        {
            Add(item);
            return;
        }

        lock (_lock)
        {
            if (_shuttingDown)
            {
                return;
            }

            var due = _timeProvider.GetUtcNow() + delay;
            if (_delayed.TryGetValue(item, out var waiting))
            {
                if (waiting.Due <= due)
                {
                    return;
                }

                waiting.Timer.Dispose();
            }

            var entry = new DelayedAdd(due);
            _delayed[item] = entry;
            entry.Timer = _timeProvider.CreateTimer(
                static state =>
                {
                    var (queue, key, self) = ((WorkQueue<TItem>, TItem, DelayedAdd))state!;
                    queue.OnDelayedAddDue(key, self);
                },
                (this, item, entry),
                delay,
                Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Re-adds a failed key after its backoff; the backoff grows until <see cref="Forget"/>.</summary>
    public void AddRateLimited(TItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (IsShuttingDown)
        {
            return;
        }

        Interlocked.Increment(ref _retries);
        _metrics?.QueueRetried(Name);
        AddAfter(item, _backoff.When(item));
    }

    /// <summary>Ends the backoff of a key that has succeeded: its next failure waits the base delay again.</summary>
    public void Forget(TItem item) => _backoff.Forget(item);

    public int NumRequeues(TItem item) => _backoff.NumRequeues(item);

    /// <summary>
    /// Waits for a key and marks it as processing; the caller must call <see cref="Done"/>. Returns
    /// <c>ShutDown = true</c> once the queue is shut down and nothing is left to hand out.
    /// Cancelling <paramref name="cancellationToken"/> gives up the wait without losing a key.
    /// </summary>
    public Task<(TItem Item, bool ShutDown)> GetAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<(TItem, bool)>(cancellationToken);
        }

        lock (_lock)
        {
            if (_ready.Count > 0)
            {
                return Task.FromResult((TakeLocked(), false));
            }

            if (_shuttingDown)
            {
                return Task.FromResult((default(TItem)!, true));
            }

            var getter = new TaskCompletionSource<(TItem, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
            var node = _getters.AddLast(getter);
            if (cancellationToken.CanBeCanceled)
            {
                var registration = cancellationToken.Register(() => CancelGetter(node, cancellationToken));
                _ = getter.Task.ContinueWith(
                    static (_, state) => ((CancellationTokenRegistration)state!).Dispose(),
                    registration,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }

            return getter.Task;
        }
    }

    /// <summary>Ends processing of a key; a key added while it was processed goes back in line now.</summary>
    public void Done(TItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_lock)
        {
            if (!_processing.Remove(item))
            {
                return;
            }

            if (_dirty.Contains(item))
            {
                _ready.Enqueue(item);
                DispatchLocked();
            }

            if (_processing.Count == 0)
            {
                _drained?.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Stops taking adds and cancels pending delayed adds. Keys already in line are still handed
    /// out; getters waiting on an empty queue are released with <c>ShutDown = true</c>.
    /// </summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            ShutDownLocked();
        }
    }

    /// <summary>
    /// Shuts down, then waits until every key being processed is <see cref="Done"/>, so in-flight
    /// work ends before the process does. Bound the wait with <paramref name="cancellationToken"/>.
    /// </summary>
    public Task ShutDownWithDrainAsync(CancellationToken cancellationToken = default)
    {
        Task drained;
        lock (_lock)
        {
            ShutDownLocked();
            if (_processing.Count == 0)
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _drained.Task;
        }

        return drained.WaitAsync(cancellationToken);
    }

    public void Dispose() => ShutDown();

    private void ShutDownLocked()
    {
        _shuttingDown = true;
        foreach (var waiting in _delayed.Values)
        {
            waiting.Timer.Dispose();
        }

        _delayed.Clear();
        if (_ready.Count == 0)
        {
            while (_getters.First is { } node)
            {
                _getters.RemoveFirst();
                node.Value.TrySetResult((default!, true));
            }
        }
    }

    private void OnDelayedAddDue(TItem item, DelayedAdd entry)
    {
        lock (_lock)
        {
            if (!_delayed.TryGetValue(item, out var current) || !ReferenceEquals(current, entry))
            {
                return;
            }

            _delayed.Remove(item);
            entry.Timer.Dispose();
        }

        Add(item);
    }

    private void CancelGetter(LinkedListNode<TaskCompletionSource<(TItem, bool)>> node, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // A node no longer in the list has already been given a key or the shutdown signal.
            if (node.List is null)
            {
                return;
            }

            _getters.Remove(node);
        }

        node.Value.TrySetCanceled(cancellationToken);
    }

    private void DispatchLocked()
    {
        while (_ready.Count > 0 && _getters.First is { } node)
        {
            _getters.RemoveFirst();
            node.Value.TrySetResult((TakeLocked(), false));
        }

        _metrics?.QueueDepth(Name, _ready.Count);
    }

    private TItem TakeLocked()
    {
        var item = _ready.Dequeue();
        _processing.Add(item);
        _dirty.Remove(item);
        _metrics?.QueueDepth(Name, _ready.Count);
        return item;
    }

    private sealed class DelayedAdd(DateTimeOffset due)
    {
        public DateTimeOffset Due { get; } = due;

        public ITimer Timer { get; set; } = null!;
    }
}
