namespace VirtualKeys.Sidecar.Metering;

/// <summary>Collects records in memory; can fail or stall on demand to stand in for an unreachable database.</summary>
public sealed class InMemoryUsageSink : IUsageSink
{
    private readonly Lock _gate = new();
    private readonly List<UsageRecord> _records = [];
    private readonly List<(Func<IReadOnlyList<UsageRecord>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private TaskCompletionSource _open = Open();
    private bool _failing;
    private Func<UsageRecord, bool>? _refused;

    public IReadOnlyList<UsageRecord> Records
    {
        get
        {
            lock (_gate)
            {
                return [.. _records];
            }
        }
    }

    public int FailedWrites { get; private set; }

    /// <summary>Every write throws until <see cref="Recover"/>.</summary>
    public void Fail()
    {
        lock (_gate)
        {
            _failing = true;
        }
    }

    /// <summary>A batch holding a record that matches is refused as a whole (<see cref="UsageRecordsRefusedException"/>), as a database refuses a value it cannot store.</summary>
    public void Refuse(Func<UsageRecord, bool> record)
    {
        lock (_gate)
        {
            _refused = record;
        }
    }

    /// <summary>Writes wait (without failing) until <see cref="Recover"/>.</summary>
    public void Stall()
    {
        lock (_gate)
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Recover()
    {
        lock (_gate)
        {
            _failing = false;
            _open.TrySetResult();
        }
    }

    public async Task WriteAsync(IReadOnlyList<UsageRecord> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Task open;
        lock (_gate)
        {
            open = _open.Task;
        }

        await open.WaitAsync(cancellationToken);
        lock (_gate)
        {
            if (_failing)
            {
                FailedWrites++;
                throw new IOException("The in-memory usage sink is failing on purpose.");
            }

            if (_refused is { } refused && batch.Any(refused))
            {
                FailedWrites++;
                throw new UsageRecordsRefusedException("The in-memory usage sink refuses a record on purpose.");
            }

            _records.AddRange(batch);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_records))
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Completes when the records written so far satisfy <paramref name="condition"/>.</summary>
    public Task WaitForAsync(Func<IReadOnlyList<UsageRecord>, bool> condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        lock (_gate)
        {
            if (condition(_records))
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((condition, done));
            return done.Task.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
