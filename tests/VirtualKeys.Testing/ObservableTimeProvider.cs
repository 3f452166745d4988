using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace VirtualKeys.Testing;

/// <summary>
/// A fake clock that also tells when code has started waiting on it, so a test advances time
/// only after the timer it means to fire exists (advancing earlier would not fire it).
/// </summary>
public sealed class ObservableTimeProvider : FakeTimeProvider
{
    private static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(15);
    private readonly SemaphoreSlim _created = new(0);

    public ObservableTimeProvider()
    {
    }

    public ObservableTimeProvider(DateTimeOffset startDateTime)
        : base(startDateTime)
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        _created.Release();
        return timer;
    }

    /// <summary>Waits until one more timer (a <c>Task.Delay</c> on this clock, say) has been created.</summary>
    /// <param name="bound">How long to wait before failing; 15 s when null.</param>
    public async Task WaitForTimerAsync(TimeSpan? bound = null)
    {
        if (!await _created.WaitAsync(bound ?? DefaultBound, TestContext.Current.CancellationToken))
        {
            throw new TimeoutException("No timer was created on the fake clock.");
        }
    }
}
