using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Metering;

/// <summary>
/// The bounded queue between requests and the usage sink. A request reserves its record's place at
/// admission, so every admitted request can always write its record: when no place is left the request
/// is refused (503) instead of being served unmetered. Refusals are counted per key and cause and
/// written as aggregated records, so a storm of 429s cannot fill the buffer.
/// </summary>
/// <remarks>
/// The flusher is woken only when the queue stops being empty (to time its interval) and when a full
/// batch is queued, not per record: a record costs an enqueue and an increment. Refusals never wake
/// it once counted: they wait for the next write, or for the interval to run out.
/// </remarks>
internal sealed class UsageBuffer
{
    private readonly Channel<UsageRecord> _records = Channel.CreateUnbounded<UsageRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly ConcurrentDictionary<(string KeyId, string Cause), RejectionCount> _rejections = new();
    private int _pending;
    private int _queued;
    private int _wakeAtQueued = int.MaxValue;
    private long _rejectionsSinceTicks;
    private TimeProvider _time = TimeProvider.System;

    public UsageBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Places taken: records waiting for the sink plus places reserved by requests in flight.</summary>
    public int Depth => Volatile.Read(ref _pending);

    public ChannelReader<bool> Wake => _wake.Reader;

    public bool TryReserve()
    {
        if (Interlocked.Increment(ref _pending) <= Capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _pending);
        return false;
    }

    public void CancelReservation() => Interlocked.Decrement(ref _pending);

    /// <summary>Records committed and not yet taken by the flusher.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>When the oldest record or refusal still waiting was queued; null when nothing waits.</summary>
    public DateTimeOffset? OldestQueuedAt
    {
        get
        {
            DateTimeOffset? oldest = _records.Reader.TryPeek(out var head) ? head.Timestamp : null;
            var since = Interlocked.Read(ref _rejectionsSinceTicks);
            if (since != 0 && (oldest is null || since < oldest.Value.UtcTicks))
            {
                oldest = new DateTimeOffset(since, TimeSpan.Zero);
            }

            return oldest;
        }
    }

    /// <summary>Set once by the flusher: how many queued records wake it, and the clock refusals are timed with.</summary>
    public void UseFlushPolicy(int batchSize, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentNullException.ThrowIfNull(time);
        _wakeAtQueued = batchSize;
        _time = time;
    }

    /// <summary>Queues the record in the place reserved for it.</summary>
    public void Commit(UsageRecord record)
    {
        _records.Writer.TryWrite(record);
        var queued = Interlocked.Increment(ref _queued);
        if (queued == 1 || queued >= _wakeAtQueued)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>Takes the oldest queued record for a batch.</summary>
    public bool TryTake([MaybeNullWhen(false)] out UsageRecord record)
    {
        if (!_records.Reader.TryRead(out record))
        {
            return false;
        }

        Interlocked.Decrement(ref _queued);
        return true;
    }

    /// <summary>The sink accepted <paramref name="count"/> committed records.</summary>
    public void Written(int count) => Interlocked.Add(ref _pending, -count);

    public void CountRejection(ServingKey key, string cause)
    {
        var counter = _rejections.GetOrAdd((key.KeyId, cause), static (_, k) => new RejectionCount(k), key);
        counter.Key = key;
        Interlocked.Increment(ref counter.Count);
        if (Interlocked.Read(ref _rejectionsSinceTicks) == 0
            && Interlocked.CompareExchange(ref _rejectionsSinceTicks, _time.GetUtcNow().UtcTicks, 0) == 0)
        {
            // The first refusal since the last write: the flusher times the interval from it.
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>Moves the refusals counted so far into records.</summary>
    public void DrainRejections(List<UsageRecord> into, DateTimeOffset now)
    {
        // Cleared first: a refusal counted from here on either is drained below or starts a new wait.
        Interlocked.Exchange(ref _rejectionsSinceTicks, 0);
        foreach (var ((_, cause), counter) in _rejections)
        {
            var count = Interlocked.Exchange(ref counter.Count, 0);
            if (count == 0)
            {
                continue;
            }

            var key = counter.Key;
            into.Add(new UsageRecord
            {
                RecordId = "r" + Guid.NewGuid().ToString("N"),
                KeyId = key.KeyId,
                Namespace = key.Entry.Namespace,
                Name = key.Entry.Name,
                Outcome = UsageOutcome.Rejected,
                Detail = cause,
                Count = (int)Math.Min(count, int.MaxValue),
                Timestamp = now,
            });
        }
    }

    private sealed class RejectionCount(ServingKey key)
    {
        public ServingKey Key = key;
        public long Count;
    }
}
