using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// A snapshot source held in memory: for tests, benchmarks and a registry-less demo. Changes made through
/// the async methods complete once every current subscriber has applied them, so a test can act on the
/// new state without polling.
/// </summary>
public sealed class InMemoryKeySnapshotSource : IKeySnapshotSource
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, VirtualKeyEntry> _entries = new(StringComparer.Ordinal);
    private readonly List<Subscriber> _subscribers = [];
    private TaskCompletionSource _loadGate = CompletedGate();

    public InMemoryKeySnapshotSource(IEnumerable<VirtualKeyEntry>? entries = null)
    {
        foreach (var entry in entries ?? [])
        {
            _entries[entry.KeyId] = entry;
        }
    }

    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Subscriptions wait before their first load until <see cref="ReleaseLoads"/>: a registry that is slow to answer.</summary>
    public void HoldLoads()
    {
        lock (_gate)
        {
            if (_loadGate.Task.IsCompleted)
            {
                _loadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void ReleaseLoads()
    {
        lock (_gate)
        {
            _loadGate.TrySetResult();
        }
    }

    public Task UpsertAsync(VirtualKeyEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_gate)
        {
            _entries[entry.KeyId] = entry;
            return PublishLocked(KeySnapshotChange.Upsert(entry), cancellationToken);
        }
    }

    public Task RemoveAsync(string keyId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _entries.Remove(keyId);
            return PublishLocked(KeySnapshotChange.Remove(keyId), cancellationToken);
        }
    }

    public Task HeartbeatAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return PublishLocked(KeySnapshotChange.Heartbeat, cancellationToken);
        }
    }

    /// <summary>Ends every current subscription with an error, as a lost database connection would.</summary>
    public void BreakSubscriptions()
    {
        lock (_gate)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Changes.Writer.TryComplete(new IOException("The in-memory snapshot source was broken on purpose."));
            }

            _subscribers.Clear();
        }
    }

    public async IAsyncEnumerable<KeySnapshotChange> SubscribeAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Task gate;
        lock (_gate)
        {
            gate = _loadGate.Task;
        }

        await gate.WaitAsync(cancellationToken);

        var subscriber = new Subscriber();
        VirtualKeyEntry[] initial;
        lock (_gate)
        {
            initial = [.. _entries.Values];
            _subscribers.Add(subscriber);
        }

        try
        {
            yield return KeySnapshotChange.Reload(initial);
            await foreach (var (change, applied) in subscriber.Changes.Reader.ReadAllAsync(cancellationToken))
            {
                yield return change;

                // Resumed only when the consumer asks for the next change, i.e. after it applied this one.
                applied.TrySetResult();
            }
        }
        finally
        {
            lock (_gate)
            {
                _subscribers.Remove(subscriber);
            }

            // Changes this subscriber will never apply are in the state the next subscription loads.
            while (subscriber.Changes.Reader.TryRead(out var pending))
            {
                pending.Applied.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    private Task PublishLocked(KeySnapshotChange change, CancellationToken cancellationToken)
    {
        if (_subscribers.Count == 0)
        {
            return Task.CompletedTask;
        }

        var applied = new Task[_subscribers.Count];
        for (var i = 0; i < _subscribers.Count; i++)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _subscribers[i].Changes.Writer.TryWrite((change, done));
            applied[i] = done.Task;
        }

        return Task.WhenAll(applied).WaitAsync(cancellationToken);
    }

    private sealed class Subscriber
    {
        public Channel<(KeySnapshotChange Change, TaskCompletionSource Applied)> Changes { get; } =
            Channel.CreateUnbounded<(KeySnapshotChange, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });
    }
}
