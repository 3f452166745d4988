using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Operator.Runtime.Queues;

namespace VirtualKeys.Operator.Tests.Runtime.Queues;

public sealed class WorkQueueTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Adding_a_waiting_key_again_hands_it_out_once()
    {
        using var queue = new WorkQueue<string>();

        queue.Add("a");
        queue.Add("a");
        queue.Add("b");

        Assert.Equal(2, queue.Count);
        Assert.Equal(("a", false), await queue.GetAsync(Ct));
        Assert.Equal(("b", false), await queue.GetAsync(Ct));
        Assert.False(queue.GetAsync(Ct).IsCompleted);
    }

    [Fact]
    public async Task A_key_added_while_processing_is_handed_out_again_only_after_Done()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("a");
        var (item, _) = await queue.GetAsync(Ct);

        queue.Add("a");
        queue.Add("a");
        var next = queue.GetAsync(Ct);

        Assert.Equal(0, queue.Count);
        Assert.False(next.IsCompleted);

        queue.Done(item);

        Assert.Equal(("a", false), await next.WaitAsync(Bound, Ct));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Done_without_a_new_add_does_not_hand_the_key_out_again()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("a");
        var (item, _) = await queue.GetAsync(Ct);

        queue.Done(item);

        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.ProcessingCount);
    }

    [Fact]
    public async Task Many_workers_never_hold_one_key_at_once_and_every_last_add_is_processed()
    {
        const int Keys = 20;
        const int Producers = 4;
        const int AddsPerProducer = 500;
        using var queue = new WorkQueue<int>();
        var inFlight = new int[Keys];
        var lastAdd = new long[Keys];
        var lastStart = new long[Keys];
        long clock = 0;
        var overlaps = 0;

        async Task WorkerAsync()
        {
            while (true)
            {
                var (key, shutDown) = await queue.GetAsync(Ct);
                if (shutDown)
                {
                    return;
                }

                if (Interlocked.Increment(ref inFlight[key]) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                Interlocked.Exchange(ref lastStart[key], Interlocked.Increment(ref clock));
                await Task.Yield();
                Interlocked.Decrement(ref inFlight[key]);
                queue.Done(key);
            }
        }

        void Produce(int seed)
        {
            var random = new Random(seed);
            for (var i = 0; i < AddsPerProducer; i++)
            {
                var key = random.Next(Keys);
                lock (lastAdd)
                {
                    lastAdd[key] = Interlocked.Increment(ref clock);
                    queue.Add(key);
                }
            }
        }

        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(WorkerAsync, Ct)).ToArray();
        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => Produce(p), Ct))).WaitAsync(Bound, Ct);

        // Remaining keys are still handed out after shutdown; then every worker is released.
        queue.ShutDown();
        await Task.WhenAll(workers).WaitAsync(Bound, Ct);

        Assert.Equal(0, overlaps);
        for (var key = 0; key < Keys; key++)
        {
            Assert.True(lastAdd[key] == 0 || lastStart[key] > lastAdd[key], $"key {key}: last add at {lastAdd[key]}, last processing began at {lastStart[key]}");
        }
    }

    [Fact]
    public void AddAfter_hands_the_key_out_only_when_its_time_comes()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(timeProvider: time);

        queue.AddAfter("a", TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.Equal(0, queue.Count);
        Assert.Equal(1, queue.DelayedCount);

        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, queue.Count);
        Assert.Equal(0, queue.DelayedCount);
    }

    [Fact]
    public void AddAfter_keeps_the_earlier_of_two_due_times()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(timeProvider: time);

        queue.AddAfter("late-then-early", TimeSpan.FromSeconds(10));
        queue.AddAfter("late-then-early", TimeSpan.FromSeconds(2));
        queue.AddAfter("early-then-late", TimeSpan.FromSeconds(2));
        queue.AddAfter("early-then-late", TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(2, queue.Count);

        time.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public void AddAfter_with_no_delay_adds_at_once()
    {
        using var queue = new WorkQueue<string>(timeProvider: new FakeTimeProvider());

        queue.AddAfter("a", TimeSpan.Zero);

        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void AddRateLimited_waits_twice_as_long_after_each_failure_up_to_the_cap()
    {
        var time = new FakeTimeProvider();
        var options = new WorkQueueOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromSeconds(10) };
        using var queue = new WorkQueue<string>(options, time);
        TimeSpan[] expected = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)];

        for (var attempt = 0; attempt < expected.Length; attempt++)
        {
            queue.AddRateLimited("a");
            Assert.Equal(attempt + 1, queue.NumRequeues("a"));

            time.Advance(expected[attempt] - TimeSpan.FromTicks(1));
            Assert.Equal(0, queue.Count);
            time.Advance(TimeSpan.FromTicks(1));
            Assert.Equal(1, queue.Count);

            Assert.True(queue.GetAsync(Ct).IsCompletedSuccessfully);
            queue.Done("a");
        }

        Assert.Equal(expected.Length, queue.TotalRetries);
    }

    [Fact]
    public void Forget_resets_the_backoff_to_the_base_delay()
    {
        var time = new FakeTimeProvider();
        var options = new WorkQueueOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromMinutes(1) };
        using var queue = new WorkQueue<string>(options, time);
        queue.AddRateLimited("a");
        queue.AddRateLimited("a");
        queue.AddRateLimited("a");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(queue.GetAsync(Ct).IsCompletedSuccessfully);
        queue.Done("a");

        queue.Forget("a");

        Assert.Equal(0, queue.NumRequeues("a"));
        queue.AddRateLimited("a");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public async Task Backoff_of_one_key_does_not_delay_another()
    {
        var time = new FakeTimeProvider();
        var options = new WorkQueueOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromMinutes(1) };
        using var queue = new WorkQueue<string>(options, time);
        for (var failure = 0; failure < 4; failure++)
        {
            queue.AddRateLimited("broken");
            time.Advance(TimeSpan.FromMinutes(1));
            queue.Done((await queue.GetAsync(Ct)).Item);
        }

        queue.AddRateLimited("broken");
        queue.AddRateLimited("fine");
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(("fine", false), await queue.GetAsync(Ct));
        Assert.Equal(0, queue.Count);
        Assert.Equal(1, queue.DelayedCount);
        Assert.Equal(5, queue.NumRequeues("broken"));
    }

    [Fact]
    public async Task ShutDown_releases_waiting_getters_and_ignores_later_adds()
    {
        using var queue = new WorkQueue<string>();
        var waiting = new[] { queue.GetAsync(Ct), queue.GetAsync(Ct) };

        queue.ShutDown();

        foreach (var getter in waiting)
        {
            Assert.True((await getter.WaitAsync(Bound, Ct)).ShutDown);
        }

        queue.Add("late");
        Assert.Equal(0, queue.Count);
        Assert.True((await queue.GetAsync(Ct)).ShutDown);
    }

    [Fact]
    public async Task ShutDown_still_hands_out_keys_already_in_line()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("a");

        queue.ShutDown();

        Assert.Equal(("a", false), await queue.GetAsync(Ct));
        Assert.True((await queue.GetAsync(Ct)).ShutDown);
    }

    [Fact]
    public void ShutDown_cancels_delayed_adds()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(timeProvider: time);
        queue.AddAfter("a", TimeSpan.FromSeconds(1));

        queue.ShutDown();
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.DelayedCount);
    }

    [Fact]
    public async Task ShutDownWithDrain_waits_until_keys_in_processing_are_done()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("a");
        queue.Add("b");
        var (a, _) = await queue.GetAsync(Ct);
        var (b, _) = await queue.GetAsync(Ct);

        var drained = queue.ShutDownWithDrainAsync(Ct);
        Assert.False(drained.IsCompleted);

        queue.Done(a);
        Assert.False(drained.IsCompleted);

        queue.Done(b);
        await drained.WaitAsync(Bound, Ct);
    }

    [Fact]
    public async Task ShutDownWithDrain_gives_up_when_its_token_is_cancelled()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("stuck");
        await queue.GetAsync(Ct);
        using var giveUp = new CancellationTokenSource();

        var drained = queue.ShutDownWithDrainAsync(giveUp.Token);
        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => drained.WaitAsync(Bound, Ct));
    }

    [Fact]
    public async Task ShutDownWithDrain_returns_at_once_when_nothing_is_processing()
    {
        using var queue = new WorkQueue<string>();

        await queue.ShutDownWithDrainAsync(Ct).WaitAsync(Bound, Ct);

        Assert.True(queue.IsShuttingDown);
    }

    [Fact]
    public async Task A_cancelled_getter_does_not_swallow_the_next_key()
    {
        using var queue = new WorkQueue<string>();
        using var cancel = new CancellationTokenSource();
        var abandoned = queue.GetAsync(cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.WaitAsync(Bound, Ct));
        queue.Add("a");

        Assert.Equal(("a", false), await queue.GetAsync(Ct).WaitAsync(Bound, Ct));
    }

    [Fact]
    public async Task Getters_waiting_on_an_empty_queue_each_receive_a_different_key()
    {
        using var queue = new WorkQueue<string>();
        var getters = Enumerable.Range(0, 3).Select(_ => queue.GetAsync(Ct)).ToArray();

        queue.Add("a");
        queue.Add("b");
        queue.Add("c");

        var items = await Task.WhenAll(getters).WaitAsync(Bound, Ct);
        Assert.Equal(["a", "b", "c"], items.Select(i => i.Item).Order());
        Assert.Equal(3, queue.ProcessingCount);
    }

    [Fact]
    public async Task Concurrent_adds_of_one_key_collapse_while_it_waits()
    {
        using var queue = new WorkQueue<string>();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                queue.Add("hot");
            }
        }, Ct))).WaitAsync(Bound, Ct);

        Assert.Equal(1, queue.Count);
    }
}
