using System.Collections.Concurrent;
using System.Threading.Channels;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Metering;

/// <summary>
/// The bounded queue between requests and the usage sink. A request reserves its record's place at
/// admission, so every admitted request can always write its record: when no place is left the request
/// is refused (503) instead of being served unmetered. Refusals are counted per key and cause and
/// written as aggregated records, so a storm of 429s cannot fill the buffer.
/// </summary>
internal sealed class UsageBuffer
{
    private readonly Channel<UsageRecord> _records = Channel.CreateUnbounded<UsageRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly ConcurrentDictionary<(string KeyId, string Cause), RejectionCount> _rejections = new();
    private int _pending;

    public UsageBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Places taken: records waiting for the sink plus places reserved by requests in flight.</summary>
    public int Depth => Volatile.Read(ref _pending);

    public ChannelReader<UsageRecord> Records => _records.Reader;

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

    /// <summary>Queues the record in the place reserved for it.</summary>
    public void Commit(UsageRecord record)
    {
        _records.Writer.TryWrite(record);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>The sink accepted <paramref name="count"/> committed records.</summary>
    public void Written(int count) => Interlocked.Add(ref _pending, -count);

    public void CountRejection(ServingKey key, string cause)
    {
        var counter = _rejections.GetOrAdd((key.KeyId, cause), static (_, k) => new RejectionCount(k), key);
        counter.Key = key;
        Interlocked.Increment(ref counter.Count);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>Moves the refusals counted so far into records.</summary>
    public void DrainRejections(List<UsageRecord> into, DateTimeOffset now)
    {
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
