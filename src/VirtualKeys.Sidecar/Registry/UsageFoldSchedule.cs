namespace VirtualKeys.Sidecar.Registry;

/// <summary>
/// When a sidecar folds the registry's pending usage into its totals (<c>vk.usage_fold</c>). A fold
/// costs one upsert per key and period however many batches it adds up, so it waits: while usage
/// is heavy, at least <see cref="BusyInterval"/> after the last one (the longer it waits, the more
/// of each key's batches one upsert covers, but the larger each fold's burst of work in PostgreSQL),
/// and otherwise at most <see cref="IdleInterval"/>, which keeps the pending rows of a quiet
/// registry few without a statement of its own every few seconds. A sidecar's first batch folds at
/// once, so pods that live shorter than the idle interval fold too. A failed fold waits its interval
/// like a successful one. Reads include pending rows, so the schedule changes cost, never a figure.
/// </summary>
internal sealed class UsageFoldSchedule
{
    /// <summary>Records written since the last fold that make it due after <see cref="BusyInterval"/>.</summary>
    public const int BusyRecords = 10_000;

    public static readonly TimeSpan BusyInterval = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan IdleInterval = TimeSpan.FromMinutes(10);

    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private DateTimeOffset? _lastFold;
    private long _written;

    public UsageFoldSchedule(TimeProvider time)
    {
        _time = time;
    }

    /// <summary>Counts a written batch and says whether a fold is due now.</summary>
    public bool Written(int records)
    {
        lock (_gate)
        {
            _written += records;
            if (_lastFold is not { } last)
            {
                return true;
            }

            var waited = _time.GetUtcNow() - last;
            return waited >= IdleInterval || (waited >= BusyInterval && _written >= BusyRecords);
        }
    }

    /// <summary>A fold was tried: it ran, found another replica's running (which folds the same rows), or failed.</summary>
    public void Folded()
    {
        lock (_gate)
        {
            _lastFold = _time.GetUtcNow();
            _written = 0;
        }
    }
}
