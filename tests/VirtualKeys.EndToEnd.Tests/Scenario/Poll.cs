namespace VirtualKeys.EndToEnd.Tests.Scenario;

/// <summary>Bounded polling: every wait in the scenario ends by its deadline or the test's cancellation.</summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    /// <summary>Calls <paramref name="probe"/> until it returns a value; throws a <see cref="TimeoutException"/> naming <paramref name="what"/> and the last state seen.</summary>
    public static async Task<T> UntilAsync<T>(
        string what,
        TimeSpan timeout,
        Func<CancellationToken, Task<(T? Value, string State)>> probe,
        CancellationToken cancellationToken)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var (value, state) = await probe(cancellationToken);
            if (value is not null)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:0}s (last seen: {state})");
            }

            await Task.Delay(Interval, cancellationToken);
        }
    }
}
