namespace VirtualKeys.Operator.Runtime.Queues;

/// <summary>
/// Per-item exponential backoff: the n-th consecutive failure of an item waits
/// <c>baseDelay * 2^(n-1)</c>, never more than <c>maxDelay</c>. Items are independent, so one
/// broken resource backs off without slowing the others. Thread-safe.
/// </summary>
public sealed class ItemExponentialBackoff<TItem>
    where TItem : notnull
{
    private readonly Dictionary<TItem, int> _failures = [];
    private readonly Lock _lock = new();

    public ItemExponentialBackoff(TimeSpan baseDelay, TimeSpan maxDelay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(baseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, baseDelay);
        BaseDelay = baseDelay;
        MaxDelay = maxDelay;
    }

    public TimeSpan BaseDelay { get; }

    public TimeSpan MaxDelay { get; }

    /// <summary>Records one more failure of <paramref name="item"/> and returns how long it should wait.</summary>
    public TimeSpan When(TItem item)
    {
        int previous;
        lock (_lock)
        {
            _failures.TryGetValue(item, out previous);
            _failures[item] = previous + 1;
        }

        return Delay(BaseDelay, MaxDelay, previous);
    }

    public int NumRequeues(TItem item)
    {
        lock (_lock)
        {
            return _failures.TryGetValue(item, out var failures) ? failures : 0;
        }
    }

    public void Forget(TItem item)
    {
        lock (_lock)
        {
            _failures.Remove(item);
        }
    }

    /// <summary>
    /// <c>baseDelay * 2^exponent</c> capped at <paramref name="maxDelay"/>, computed without
    /// overflow for any exponent.
    /// </summary>
    public static TimeSpan Delay(TimeSpan baseDelay, TimeSpan maxDelay, int exponent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(exponent);
        var ticks = baseDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)ticks);
    }
}
