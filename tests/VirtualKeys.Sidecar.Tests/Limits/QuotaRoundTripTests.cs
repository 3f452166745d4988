using Microsoft.Extensions.Time.Testing;
using Npgsql;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Sidecar.Tests.Limits;

/// <summary>
/// What shared quotas cost in PostgreSQL round trips: refusals cost none, busy keys get leases sized
/// to their demand, and a lease given back reaches the replicas that ran out.
/// </summary>
public sealed class QuotaRoundTripTests(PostgresDatabase database) : SharedQuotaTestBase(database), IClassFixture<PostgresDatabase>
{
    private static readonly QuotaDemand Rpm600 = new(new KeyLimits(RequestsPerMinute: 600), null, 0, 0m);

    [Fact]
    public async Task Once_a_window_is_used_up_refused_requests_cost_no_round_trip_until_the_next_window()
    {
        var ledger = new QuotaLedger(Database);
        var a = NewStore(ledger);
        var b = NewStore(ledger);
        var key = NewKeyId();

        var admitted = await AdmitUntilRefusedAsync(a, key) + await AdmitUntilRefusedAsync(b, key);
        var tripsWhenUsedUp = ledger.RoundTrips;
        var refusals = new List<QuotaDecision>();
        for (var i = 0; i < 500; i++)
        {
            refusals.Add(await (i % 2 == 0 ? a : b).TryAdmitAsync(key, Rpm600, Cancel));
        }

        var tripsAfterRefusals = ledger.RoundTrips;
        Time.Advance(TimeSpan.FromMinutes(1));
        var nextWindow = await a.TryAdmitAsync(key, Rpm600, Cancel);

        Assert.Equal(600, admitted);
        Assert.All(refusals, d => Assert.Equal(QuotaRefusalReason.RequestsPerMinute, d.Reason));
        Assert.Equal(tripsWhenUsedUp, tripsAfterRefusals);
        Assert.True(nextWindow.Admitted, "the next window admits again");
        Assert.True(ledger.RoundTrips > tripsAfterRefusals, "the next window is leased anew");
    }

    [Fact]
    public async Task A_busy_replica_leases_for_its_demand_so_a_window_takes_a_handful_of_round_trips()
    {
        var ledger = new QuotaLedger(Database);
        var store = NewStore(ledger);
        var key = NewKeyId();

        // 600 requests offered within one second: a lease of 5 % (30) would take 20 grants.
        var admitted = await AdmitUntilRefusedAsync(store, key);

        Assert.Equal(600, admitted);
        Assert.InRange(ledger.RoundTrips, 1, 6);
    }

    [Fact]
    public async Task A_replica_that_found_the_window_used_up_admits_what_an_idle_replica_gives_back()
    {
        var ledger = new QuotaLedger(Database);
        var idle = NewStore(ledger);
        var busy = NewStore(ledger);
        await busy.StartAsync(Cancel);
        var key = NewKeyId();

        var first = await idle.TryAdmitAsync(key, Rpm600, Cancel);
        await idle.SettleAsync(first.Ticket, 0, 0m, Cancel);
        var beforeReturn = await AdmitUntilRefusedAsync(busy, key);
        Time.Advance(TimeSpan.FromSeconds(6));
        await idle.ReturnIdleNowAsync(Cancel);

        // The return is announced over LISTEN/NOTIFY: wait (real time) until it arrives.
        var afterReturn = 0L;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (afterReturn == 0 && !deadline.IsCancellationRequested)
        {
            afterReturn = await AdmitUntilRefusedAsync(busy, key);
            if (afterReturn == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), Cancel);
            }
        }

        Assert.True(first.Admitted);
        Assert.True(beforeReturn < 599, $"the idle replica's lease was held back from the busy one ({beforeReturn} admitted)");
        Assert.Equal(599, beforeReturn + afterReturn);
    }

    [Fact]
    public async Task A_replica_serving_only_unlimited_keys_sends_no_heartbeat_and_starts_once_it_admits_a_limited_key()
    {
        var ledger = new QuotaLedger(Database);
        var clock = new LoopClock(Time);
        await using var store = NewObservedStore(ledger, clock);
        await clock.StartLoopAsync(store);
        var unlimited = new QuotaDemand(KeyLimits.None, null, 100, 0.01m);

        var admittedUnlimited = 0;
        for (var i = 0; i < 100; i++)
        {
            var decision = await store.TryAdmitAsync(NewKeyId(), unlimited, Cancel);
            admittedUnlimited += decision.Admitted ? 1 : 0;
            await store.SettleAsync(decision.Ticket, 100, 0.01m, Cancel);
        }

        // Two heartbeat intervals of fake time, a second at a time: the heartbeat loop has taken its
        // turn at every one of those seconds before the next one comes.
        for (var second = 0; second < 60; second++)
        {
            await clock.AdvanceOneSecondAsync();
        }

        var heartbeatsBeforeLimitedKey = ledger.Heartbeats;
        var knownBeforeLimitedKey = await IsKnownAliveAsync(store.ReplicaId);
        var limited = await store.TryAdmitAsync(NewKeyId(), Rpm600, Cancel);
        var knownAfterLimitedKey = false;
        for (var second = 0; second < 300 && !(knownAfterLimitedKey && ledger.Heartbeats > 0); second++)
        {
            await clock.AdvanceOneSecondAsync();
            knownAfterLimitedKey = await IsKnownAliveAsync(store.ReplicaId);
        }

        Assert.Equal(100, admittedUnlimited);
        Assert.Equal(0, heartbeatsBeforeLimitedKey);
        Assert.False(knownBeforeLimitedKey, "no heartbeat while only unlimited keys are served");
        Assert.True(limited.Admitted);
        Assert.True(knownAfterLimitedKey, "a heartbeat once a limited key is admitted");
        Assert.True(ledger.Heartbeats > 0, "the heartbeat loop started sending once a limited key was admitted");
    }

    [Fact]
    public async Task A_replica_whose_grants_keep_it_alive_sends_no_heartbeat_until_it_stops_refilling()
    {
        var ledger = new QuotaLedger(Database);
        // Counts heartbeats: a grant slowed down by a loaded machine must not count as an outage,
        // whose probes are heartbeats too. (A timeout that long needs a longer replica TTL.)
        var clock = new LoopClock(Time);
        await using var store = NewObservedStore(ledger, clock, o => (o.RefillTimeout, o.ReplicaTtl) = (TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(4)));
        await clock.StartLoopAsync(store);
        var key = NewKeyId();

        // Two requests a second for three minutes of fake time: leases sized to that demand are
        // refilled every few seconds, and each grant refreshes the replica's presence.
        var admitted = 0;
        var lapses = await RunCountingLapsesAsync(clock, store.ReplicaId, async _ =>
        {
            for (var i = 0; i < 2; i++)
            {
                var decision = await store.TryAdmitAsync(key, Rpm600, Cancel);
                admitted += decision.Admitted ? 1 : 0;
                await store.SettleAsync(decision.Ticket, 0, 0m, Cancel);
            }
        });

        var heartbeatsWhileRefilling = ledger.Heartbeats;

        // Idle: no grant refreshes it any more, and it admitted a limited key within ReplicaTtl.
        await IdleUntilNextHeartbeatAsync(clock, ledger);

        Assert.Equal(360, admitted);
        Assert.Equal(0, lapses);
        Assert.Equal(1, heartbeatsWhileRefilling);
        Assert.Equal(2, ledger.Heartbeats);
    }

    [Fact]
    public async Task A_replica_whose_usage_batches_carry_its_presence_sends_no_heartbeat_for_it()
    {
        var ledger = new QuotaLedger(Database);
        // Counts heartbeats: a grant slowed down by a loaded machine must not count as an outage,
        // whose probes are heartbeats too. (A timeout that long needs a longer replica TTL.)
        var clock = new LoopClock(Time);
        await using var store = NewObservedStore(ledger, clock, o => (o.RefillTimeout, o.ReplicaTtl) = (TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(4)));
        // The only test of the class that opens the registry: the key ring binds to this KEK.
        var kek = Path.Combine(Path.GetTempPath(), "vk-kek-roundtrips-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kek);
        await using var registry = await VirtualKeyRegistry.OpenAsync(ConnectionString, kek, [], Time, null, Cancel);
        File.Delete(kek);
        var sink = new RegistryUsageSink(registry, store);
        await clock.StartLoopAsync(store);
        var key = NewKeyId();

        // A held parallel slot needs liveness for as long as it is held, and takes no further grant.
        var held = await store.TryAdmitAsync(key, new QuotaDemand(new KeyLimits(MaxParallelRequests: 2), null, 0, 0m), Cancel);
        var lapses = await RunCountingLapsesAsync(clock, store.ReplicaId, async second =>
        {
            if (second % 10 == 0)
            {
                await sink.WriteAsync([Served(key, Time.GetUtcNow())], Cancel);
            }
        });

        var heartbeatsWhileFlushing = ledger.Heartbeats;
        await IdleUntilNextHeartbeatAsync(clock, ledger);

        Assert.True(held.Admitted);
        Assert.Equal(0, lapses);
        Assert.Equal(1, heartbeatsWhileFlushing);
        Assert.Equal(2, ledger.Heartbeats);
    }

    /// <summary>
    /// Three minutes of fake time, a second at a time, <paramref name="eachSecond"/> at the start of
    /// each, the heartbeat loop taking its turn at every second. Returns how many seconds (after the
    /// first five) ended with the replica not seen alive in the last 30 s.
    /// </summary>
    private async Task<int> RunCountingLapsesAsync(LoopClock clock, string replicaId, Func<int, Task> eachSecond)
    {
        var lapses = 0;
        for (var second = 0; second < 180; second++)
        {
            await eachSecond(second);
            await clock.AdvanceOneSecondAsync();
            if (second > 5 && !await IsKnownAliveAsync(replicaId, Time.GetUtcNow() - TimeSpan.FromSeconds(30)))
            {
                lapses++;
            }
        }

        return lapses;
    }

    /// <summary>
    /// Advances fake time a second at a time, the heartbeat loop taking its turn at each, until the
    /// ledger has sent one more heartbeat, for at most 45 s.
    /// </summary>
    private static async Task IdleUntilNextHeartbeatAsync(LoopClock clock, QuotaLedger ledger)
    {
        var before = ledger.Heartbeats;
        for (var second = 0; second < 45 && ledger.Heartbeats == before; second++)
        {
            await clock.AdvanceOneSecondAsync();
        }
    }

    private SharedQuotaStore NewObservedStore(QuotaLedger ledger, LoopClock clock, Action<QuotaOptions>? configure = null)
    {
        var options = new QuotaOptions { ReplicaId = "replica-" + Guid.NewGuid().ToString("N")[..8] };
        configure?.Invoke(options);
        return new SharedQuotaStore(ledger, options, clock);
    }

    private static UsageRecord Served(string key, DateTimeOffset at) => new()
    {
        RecordId = Guid.NewGuid().ToString("N"),
        KeyId = key,
        Namespace = "team-a",
        Name = "app",
        Model = "gpt-4o-mini",
        Outcome = UsageOutcome.Success,
        Timestamp = at,
    };

    private async Task<bool> IsKnownAliveAsync(string replicaId, DateTimeOffset? seenSince = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM vk.quota_replicas WHERE replica_id = $1 AND last_seen >= $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = replicaId });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = (seenSince ?? DateTimeOffset.MinValue).UtcDateTime, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return (long)(await command.ExecuteScalarAsync(Cancel))! > 0;
    }

    private static async Task<long> AdmitUntilRefusedAsync(SharedQuotaStore store, string key)
    {
        long admitted = 0;
        while (true)
        {
            var decision = await store.TryAdmitAsync(key, Rpm600, Cancel);
            if (!decision.Admitted)
            {
                Assert.Equal(QuotaRefusalReason.RequestsPerMinute, decision.Reason);
                return admitted;
            }

            admitted++;
            await store.SettleAsync(decision.Ticket, 0, 0m, Cancel);
        }
    }

    /// <summary>
    /// The fake clock as one store sees it, telling the test when the store's background loop
    /// (heartbeats, returns of idle leases) has looked at it. Each turn of that loop begins by reading
    /// the clock, once a tick of the fake clock is due: a read at a given time means the loop has
    /// finished every turn before it. Only the loop's reads count (they run in the execution context
    /// <see cref="StartLoopAsync"/> starts it in), not the test's admissions and settlements.
    /// </summary>
    private sealed class LoopClock(FakeTimeProvider fake) : TimeProvider
    {
        private readonly AsyncLocal<bool> _inLoop = new();
        private readonly Lock _gate = new();
        private long _loopSawTicks = long.MinValue;
        private TaskCompletionSource _nextRead = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override TimeZoneInfo LocalTimeZone => fake.LocalTimeZone;

        public override long TimestampFrequency => fake.TimestampFrequency;

        public override long GetTimestamp() => fake.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            fake.CreateTimer(callback, state, dueTime, period);

        public override DateTimeOffset GetUtcNow()
        {
            var now = fake.GetUtcNow();
            if (_inLoop.Value)
            {
                TaskCompletionSource read;
                lock (_gate)
                {
                    _loopSawTicks = Math.Max(_loopSawTicks, now.UtcTicks);
                    read = _nextRead;
                    _nextRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                read.TrySetResult();
            }

            return now;
        }

        /// <summary>Starts the store's background loop and waits for its first turn.</summary>
        public async Task StartLoopAsync(SharedQuotaStore store)
        {
            // The loop's tasks take this execution context with them; the caller's stays unmarked.
            _inLoop.Value = true;
            await store.StartAsync(Cancel);
            _inLoop.Value = false;
            await LoopSawAsync(fake.GetUtcNow());
        }

        /// <summary>One second of fake time, then waits (real time) until the loop has begun its turn at the new time.</summary>
        public Task AdvanceOneSecondAsync()
        {
            fake.Advance(TimeSpan.FromSeconds(1));
            return LoopSawAsync(fake.GetUtcNow());
        }

        private async Task LoopSawAsync(DateTimeOffset at)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            while (true)
            {
                Task read;
                lock (_gate)
                {
                    if (_loopSawTicks >= at.UtcTicks)
                    {
                        return;
                    }

                    read = _nextRead.Task;
                }

                try
                {
                    await read.WaitAsync(deadline.Token);
                }
                catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
                {
                    throw new TimeoutException($"The store's background loop did not look at the clock at {at:O} within 30 s.");
                }
            }
        }
    }
}
