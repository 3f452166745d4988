namespace VirtualKeys.Operator.Tests.Runtime.Support;

internal static class Wait
{
    /// <summary>Upper bound of any wait in these tests: a hang fails the test instead of the run.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    public static async Task UntilAsync(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what()}.");
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what()}.");
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
