using Microsoft.Extensions.Time.Testing;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

/// <summary>
/// A fake clock that also tells when code has started waiting on it, so a test advances time
/// only after the timer it means to fire exists (advancing earlier would not fire it).
/// </summary>
internal sealed class ObservableTimeProvider : FakeTimeProvider
{
    private readonly SemaphoreSlim _created = new(0);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        _created.Release();
        return timer;
    }

    /// <summary>Waits until one more timer (a <c>Task.Delay</c> on this clock, say) has been created.</summary>
    public async Task WaitForTimerAsync()
    {
        if (!await _created.WaitAsync(Wait.Bound, TestContext.Current.CancellationToken))
        {
            throw new TimeoutException("No timer was created on the fake clock.");
        }
    }
}
