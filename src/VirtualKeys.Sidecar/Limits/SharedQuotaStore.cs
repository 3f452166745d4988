using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Sidecar.Snapshot;
using BudgetPeriodKind = VirtualKeys.Registry.Usage.BudgetPeriodKind;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// Quotas shared by every sidecar replica on one registry. Each replica leases blocks of requests,
/// tokens, dollars and parallel slots from PostgreSQL (<see cref="QuotaLedger"/>) and admits from its
/// leases under one short lock per key, so the common path never waits for the network.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>A key whose lease runs short refills it: one refill in flight per key, the other requests
/// wait for it. A refill asks every dimension that is low at once (one round trip), and one is
/// started in the background when a lease falls to a quarter of its size, before it runs out. A
/// lease is sized to this replica's demand for the key (<see cref="QuotaOptions.LeaseHorizon"/>).</item>
/// <item>A grant that comes back short means the counter is used up: the replica refuses from then on
/// without asking, until the window (requests, tokens) ends or another replica announces a return
/// (<see cref="QuotaLedger.ReturnsChannel"/>). So a refused request costs no round trip.</item>
/// <item>The sum of grants never exceeds a limit, so the admissions of all replicas together do not
/// either. Unused leases go back when a key is idle and at shutdown; a replica that crashes loses
/// what it held for the rest of the minute (requests, tokens) or until its heartbeat lapses (slots,
/// and dollars: the ledger records each replica's dollar leases, and every grant and return says
/// what of them this replica has not settled, <see cref="Account.LeaseHeld"/>; the heartbeat that
/// forgets a lapsed replica gives that back, less the spend recorded since). A replica taken for dead
/// that comes back is told at its next grant that its dollar lease is gone (<see cref="QuotaGrant.BudgetKeptUsd"/>).</item>
/// <item>Budgets: a lease is admitted from while it is above zero, so concurrent requests overshoot
/// the cap by at most their in-flight estimates, as in <see cref="LocalQuotaStore"/>. Use beyond a
/// lease (an estimate too low, or while PostgreSQL was away) is charged to the shared counter at the
/// next refill.</item>
/// <item>Fail-static: when PostgreSQL does not answer, the store stops asking it (the heartbeat keeps
/// probing) and admits each key up to this replica's share: the limit divided by the live replicas
/// at the last heartbeat, at least one.</item>
/// <item>Heartbeats (<see cref="QuotaOptions.HeartbeatInterval"/>) only while the replica must be known
/// alive: it admitted a limited key within <see cref="QuotaOptions.ReplicaTtl"/> (outage shares count
/// the live replicas) or holds parallel slots (which count only while their holder is alive). A grant
/// or a usage batch (<see cref="IQuotaPresence"/>) refreshes the presence as well, so a replica that
/// refilled or flushed usage within the interval skips the heartbeat,
/// except one every <see cref="CleanupInterval"/> that forgets lapsed replicas and old windows.</item>
/// </list>
/// </remarks>
public sealed partial class SharedQuotaStore : IQuotaStore, IQuotaHealth, IQuotaPresence, IRecordedSpendObserver, IHostedService, IAsyncDisposable
{
    private const int MaxRefillsPerAdmission = 3;

    private static readonly TimeSpan ParallelRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ExhaustedRecheck = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SlotsRecheck = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ListenRetry = TimeSpan.FromSeconds(5);

    /// <summary>How often the background loop looks whether a heartbeat is due and which keys are idle; <see cref="QuotaOptions.Validate"/> counts it in the replica TTL.</summary>
    internal static readonly TimeSpan MaintenanceTick = TimeSpan.FromSeconds(1);

    /// <summary>How often a replica that needs liveness heartbeats even while its grants keep it present: the heartbeat forgets lapsed replicas and old windows.</summary>
    private static readonly TimeSpan CleanupInterval = QuotaLedger.WindowRetention / 2;

    private readonly ConcurrentDictionary<string, Account> _accounts = new(StringComparer.Ordinal);
    private readonly QuotaLedger _ledger;
    private readonly QuotaOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _maintenance = Task.CompletedTask;
    private Task _listening = Task.CompletedTask;
    private volatile bool _degraded;
    private volatile int _liveReplicas = 1;
    private int _slotEpoch;
    private readonly Lock _heartbeatGate = new();
    private long _lastLimitedAdmissionTicks;
    private long _lastPresenceTicks;
    private long _lastHeartbeatTicks;
    private Task? _heartbeat;

    /// <param name="time">The clock for windows and periods (tests pass a fake one); network timeouts use real time.</param>
    public SharedQuotaStore(QuotaLedger ledger, QuotaOptions options, TimeProvider time, ILogger<SharedQuotaStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _ledger = ledger;
        _options = options;
        _time = time;
        _logger = logger ?? NullLogger<SharedQuotaStore>.Instance;
        ReplicaId = options.ResolveReplicaId();
    }

    public string ReplicaId { get; }

    public QuotaHealth Health => new(_degraded, _liveReplicas, _ledger.RoundTrips);

    public ValueTask<QuotaDecision> TryAdmitAsync(string keyId, QuotaDemand demand, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        Account? account;
        if (IsUnlimited(demand) && !_accounts.TryGetValue(keyId, out account))
        {
            // Nothing to count: no account, no lease, no round trip (the default ticket settles to nothing).
            return new(new QuotaDecision(default, QuotaRefusalReason.None, null));
        }

        account = _accounts.GetOrAdd(keyId, static id => new Account(id));
        var decision = TryAdmitLocally(account, demand, allowRefill: true, firstAttempt: true, out var refill);
        return refill is null ? new(decision) : AdmitAfterRefillAsync(account, demand, refill, cancellationToken);
    }

    public ValueTask SettleAsync(QuotaTicket ticket, long actualTokens, decimal actualCostUsd, CancellationToken cancellationToken)
    {
        if (ticket.KeyId is null || !_accounts.TryGetValue(ticket.KeyId, out var account))
        {
            return ValueTask.CompletedTask;
        }

        var now = _time.GetUtcNow();
        var tokens = Math.Max(0, actualTokens);
        var cost = Math.Max(0m, actualCostUsd);
        lock (account.Gate)
        {
            account.Roll(MinuteOf(now), account.Period, now);
            account.InFlight = Math.Max(0, account.InFlight - 1);
            if (ticket.MinuteWindow == account.Minute)
            {
                account.TokensUsed = Math.Max(0, account.TokensUsed - ticket.ReservedTokens + tokens);
                if (ticket.TokensLeased)
                {
                    account.TokensLease += ticket.ReservedTokens - tokens;
                }
            }

            account.Reserved = Math.Max(0m, account.Reserved - ticket.ReservedCostUsd);
            account.Spent += cost;
            account.OwnSettled += cost;
            if (ticket.BudgetPeriodStart is { } periodStart)
            {
                if (periodStart == account.PeriodStart)
                {
                    account.BudgetLease += ticket.ReservedCostUsd - cost;
                    account.BudgetOverdraft = Math.Max(0m, account.BudgetOverdraft - ticket.BudgetOverdraft);
                    account.BudgetReserved = Math.Max(0m, account.BudgetReserved - ticket.ReservedCostUsd);
                }
                else
                {
                    // Admitted in an earlier period: the reservation went with that period's lease.
                    account.BudgetLease -= cost;
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public QuotaAccountState GetState(string keyId)
    {
        if (!_accounts.TryGetValue(keyId, out var account))
        {
            return default;
        }

        var now = _time.GetUtcNow();
        lock (account.Gate)
        {
            account.Roll(MinuteOf(now), account.Period, now);
            return new QuotaAccountState(account.RequestsUsed, account.TokensUsed, account.InFlight, account.Spent, account.Reserved, account.PeriodStart);
        }
    }

    /// <summary>
    /// Only for what this replica shows (spend metrics) and its share during an outage before any
    /// grant: the shared budget counter seeds itself from the registry's recorded spend.
    /// </summary>
    public void ObserveRecordedSpend(string keyId, BudgetPeriod period, decimal spentUsd)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        var now = _time.GetUtcNow();
        var account = _accounts.GetOrAdd(keyId, static id => new Account(id));
        lock (account.Gate)
        {
            account.Roll(MinuteOf(now), period, now);
            if (spentUsd > account.Spent)
            {
                account.Spent = spentUsd;
                account.OwnSettledBeforeRecorded = account.OwnSettled;
            }
        }
    }

    /// <summary>Starts the heartbeat, which also gives idle keys' leases back and probes PostgreSQL while it is away.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _maintenance = Task.Run(() => MaintainAsync(_stopping.Token), CancellationToken.None);
        _listening = Task.Run(() => ListenForReturnsAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Gives every unused lease back and leaves, so the replica's slots are free at once.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await _maintenance;
            await _listening;
        }
        catch (OperationCanceledException)
        {
        }

        using var deadline = new CancellationTokenSource(StopTimeout);
        try
        {
            await GiveBackAsync(_time.GetUtcNow(), everything: true, Timeout.InfiniteTimeSpan, deadline.Token);
            await _ledger.LeaveAsync(ReplicaId, deadline.Token);
        }
        catch (Exception ex)
        {
            Log.LeaveFailed(_logger, ex.GetType().Name, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
    }

    public ReplicaPresence? PresenceToCarry()
    {
        var now = _time.GetUtcNow();
        return NeedsLiveness(now) ? new ReplicaPresence(ReplicaId, now, _options.ReplicaTtl) : null;
    }

    /// <summary>A grant or a usage batch refreshed this replica's presence: the heartbeat can wait.</summary>
    public void PresenceCarried(ReplicaPresence presence, bool present, int liveReplicas)
    {
        if (present)
        {
            _liveReplicas = Math.Max(1, liveReplicas);
            MarkPresent(presence.Now);
        }
    }

    /// <summary>One heartbeat now (tests; the background loop does this on its own).</summary>
    public Task HeartbeatNowAsync(CancellationToken cancellationToken) => HeartbeatAsync(_time.GetUtcNow(), cancellationToken);

    /// <summary>Gives back the unused leases of keys idle for <see cref="QuotaOptions.IdleReturnAfter"/> (tests; the background loop does this on its own).</summary>
    public Task ReturnIdleNowAsync(CancellationToken cancellationToken) => ReturnIdleAsync(_time.GetUtcNow(), cancellationToken);

    private static long MinuteOf(DateTimeOffset now) => now.UtcTicks / TimeSpan.TicksPerMinute;

    private static DateTimeOffset WindowStartOf(long minute) => new(minute * TimeSpan.TicksPerMinute, TimeSpan.Zero);

    private static long WindowEndTicks(long minute) => (minute + 1) * TimeSpan.TicksPerMinute;

    private static bool IsUnlimited(QuotaDemand demand) =>
        demand.Budget is null && demand.Limits is { RequestsPerMinute: null, TokensPerMinute: null, MaxParallelRequests: null };

    private static TimeSpan ToNextMinute(long minute, DateTimeOffset now) =>
        TimeSpan.FromTicks(((minute + 1) * TimeSpan.TicksPerMinute) - now.UtcTicks);

    private static long Share(long limit, int live) => Math.Max(1, limit / Math.Max(1, live));

    private static BudgetPeriodKind ToRegistry(BudgetPeriod period) => period switch
    {
        BudgetPeriod.Daily => BudgetPeriodKind.Daily,
        BudgetPeriod.Weekly => BudgetPeriodKind.Weekly,
        BudgetPeriod.Monthly => BudgetPeriodKind.Monthly,
        _ => BudgetPeriodKind.Total,
    };

    private static QuotaDecision Refuse(QuotaRefusalReason reason, TimeSpan? retryAfter, bool neverFits = false) =>
        new(default, reason, retryAfter, neverFits);

    private long Block(long limit) => Math.Max(1, (long)Math.Ceiling(limit * _options.LeaseFraction));

    private decimal Block(decimal cap) => cap * (decimal)_options.LeaseFraction;

    /// <summary>
    /// A lease sized to this replica's demand: what <paramref name="perSecond"/> uses in
    /// <see cref="QuotaOptions.LeaseHorizon"/>, at least a block, at most the replica's fair share of the limit.
    /// </summary>
    private long LeaseSize(long limit, long perSecond, int live)
    {
        var block = Block(limit);
        var fairShare = Math.Max(block, limit / Math.Max(1, live));
        var demand = perSecond * _options.LeaseHorizon.TotalSeconds;
        return demand >= fairShare ? fairShare : Math.Max(block, (long)demand);
    }

    private async ValueTask<QuotaDecision> AdmitAfterRefillAsync(Account account, QuotaDemand demand, Task refill, CancellationToken cancellationToken)
    {
        // Counted as waiting so the next refill asks for every waiting request's need at once: a burst
        // larger than a block is then served by one round trip, instead of each waiter winning one
        // block in turn and the last ones running out of attempts while the pool still has room.
        var tokens = Math.Max(0, demand.EstimatedTokens);
        var cost = Math.Max(0m, demand.EstimatedCostUsd);
        lock (account.Gate)
        {
            account.WaitingRequests++;
            account.WaitingTokens += tokens;
            account.WaitingCost += cost;
        }

        try
        {
            for (var attempt = 1; ; attempt++)
            {
                await refill.WaitAsync(cancellationToken);
                var decision = TryAdmitLocally(account, demand, allowRefill: attempt < MaxRefillsPerAdmission, firstAttempt: false, out var next);
                if (next is null)
                {
                    return decision;
                }

                refill = next;
            }
        }
        finally
        {
            lock (account.Gate)
            {
                account.WaitingRequests--;
                account.WaitingTokens -= tokens;
                account.WaitingCost -= cost;
            }
        }
    }

    /// <summary>
    /// Decides from the leases when it can; otherwise returns the refill to wait for in
    /// <paramref name="refill"/> (started here, or the one already in flight).
    /// </summary>
    private QuotaDecision TryAdmitLocally(Account account, QuotaDemand demand, bool allowRefill, bool firstAttempt, out Task? refill)
    {
        refill = null;
        var now = _time.GetUtcNow();
        if (now.UtcTicks - Volatile.Read(ref _lastLimitedAdmissionTicks) > TimeSpan.TicksPerSecond)
        {
            // Coarse on purpose: one write a second, not one per admission, on a field every key shares.
            Volatile.Write(ref _lastLimitedAdmissionTicks, now.UtcTicks);
        }

        var minute = MinuteOf(now);
        var tokens = Math.Max(0, demand.EstimatedTokens);
        var cost = Math.Max(0m, demand.EstimatedCostUsd);
        var degraded = _degraded;
        var live = _liveReplicas;
        // Cut off or paused this long, the others may have taken this replica for dead (a replica
        // holding a dollar lease heartbeats, so its presence is stale only then).
        var presenceStale = PresenceIsStale(now);
        TaskCompletionSource? started = null;
        Refill? pending = null;
        QuotaDecision decision;

        lock (account.Gate)
        {
            account.Roll(minute, demand.Budget?.Period ?? account.Period, now);
            account.LastAdmissionTicks = now.UtcTicks;
            account.BudgetCap = demand.Budget?.MaxCostUsd;
            if (firstAttempt)
            {
                account.Offer(now.UtcTicks / TimeSpan.TicksPerSecond, tokens);
            }

            var neverFits = NeverFits(demand, tokens, minute, now);
            if (neverFits is { } refused)
            {
                return refused;
            }

            // The ledger reclaims a lease once neither the replica's presence nor the lease's last
            // grant is within the TTL; half of it is the margin, as for the presence.
            if (presenceStale && MayHaveLostLease(account, now))
            {
                account.DoubtBudgetLease();
            }

            var shortfall = Shortfall(account, demand, tokens, degraded, live);
            if (shortfall == QuotaRefusalReason.None)
            {
                decision = Charge(account, demand, tokens, cost, minute);
                if (!degraded && account.Refill is null)
                {
                    pending = PlanRefill(account, demand, 0, 0m, now, includeSlots: false);
                }
            }
            else if (degraded || !allowRefill || account.IsExhausted(shortfall, now.UtcTicks))
            {
                return Refused(shortfall, demand, minute, now);
            }
            else if (account.Refill is { } inFlight)
            {
                refill = inFlight;
                return default;
            }
            else
            {
                pending = PlanRefill(account, demand, tokens, cost, now, includeSlots: true);
                if (pending is null)
                {
                    return Refused(shortfall, demand, minute, now);
                }

                decision = default;
            }

            if (pending is not null)
            {
                started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                account.Refill = started.Task;
                if (shortfall != QuotaRefusalReason.None)
                {
                    refill = started.Task;
                }
            }
        }

        if (pending is not null)
        {
            _ = RefillAsync(account, pending, started!);
        }

        return decision;
    }

    private static QuotaDecision? NeverFits(QuotaDemand demand, long tokens, long minute, DateTimeOffset now)
    {
        var limits = demand.Limits;
        if (demand.Budget is { MaxCostUsd: <= 0 } budget)
        {
            return Refuse(QuotaRefusalReason.Budget, BudgetPeriods.NextStart(budget.Period, now) - now, neverFits: true);
        }

        if (limits.RequestsPerMinute is <= 0)
        {
            return Refuse(QuotaRefusalReason.RequestsPerMinute, ToNextMinute(minute, now), neverFits: true);
        }

        if (limits.TokensPerMinute is { } tpm && tokens > tpm)
        {
            return Refuse(QuotaRefusalReason.TokensPerMinute, ToNextMinute(minute, now), neverFits: true);
        }

        if (limits.MaxParallelRequests is <= 0)
        {
            return Refuse(QuotaRefusalReason.ParallelRequests, ParallelRetryAfter, neverFits: true);
        }

        return null;
    }

    private static QuotaDecision Refused(QuotaRefusalReason reason, QuotaDemand demand, long minute, DateTimeOffset now) => reason switch
    {
        QuotaRefusalReason.Budget => Refuse(reason, BudgetPeriods.NextStart(demand.Budget!.Period, now) - now),
        QuotaRefusalReason.ParallelRequests => Refuse(reason, ParallelRetryAfter),
        _ => Refuse(reason, ToNextMinute(minute, now)),
    };

    /// <summary>The first limit (in <see cref="LocalQuotaStore"/>'s order) the leases, or the share while degraded, cannot cover.</summary>
    private static QuotaRefusalReason Shortfall(Account account, QuotaDemand demand, long tokens, bool degraded, int live)
    {
        var limits = demand.Limits;
        if (demand.Budget is { } budget && !BudgetCovers(account, budget, degraded, live))
        {
            return QuotaRefusalReason.Budget;
        }

        if (limits.RequestsPerMinute is { } rpm && !(account.RequestsLease >= 1 || (degraded && account.RequestsUsed < Share(rpm, live))))
        {
            return QuotaRefusalReason.RequestsPerMinute;
        }

        // Max(tokens, 1): a request without an estimate still needs room left in the window.
        var needTokens = Math.Max(tokens, 1);
        if (limits.TokensPerMinute is { } tpm && !(account.TokensLease >= needTokens || (degraded && account.TokensUsed + needTokens <= Share(tpm, live))))
        {
            return QuotaRefusalReason.TokensPerMinute;
        }

        if (limits.MaxParallelRequests is { } parallel && !(account.InFlight < account.SlotsHeld || (degraded && account.InFlight < Share(parallel, live))))
        {
            return QuotaRefusalReason.ParallelRequests;
        }

        return QuotaRefusalReason.None;
    }

    /// <summary>
    /// Whether the budget admits one more request: from the lease while above zero (a lease the ledger
    /// may have taken back is asked about first, see <see cref="Account.BudgetUnverified"/>); while
    /// degraded, from the lease and then this replica's share. A doubted lease counts nothing while
    /// degraded, since another replica may be spending it: what was spent from it since counts
    /// against the share, as use beyond a lease does.
    /// </summary>
    private static bool BudgetCovers(Account account, KeyBudget budget, bool degraded, int live)
    {
        if (!degraded)
        {
            return account.BudgetLease > 0m && !account.BudgetUnverified;
        }

        var lease = account.BudgetUnverified ? account.BudgetLease - account.BudgetDoubted : account.BudgetLease;
        return lease > 0m || lease + BudgetShare(account, budget, live) > 0m;
    }

    /// <summary>
    /// While degraded: this replica's part of what the pool had left at the last grant, or, before any
    /// grant, of the cap less the spend known apart from this replica's own use. That use is what the
    /// lease went below zero by (settled and in flight); <see cref="Account.Spent"/> and
    /// <see cref="Account.Reserved"/> count it too, and the caller adds the lease, so it is counted once.
    /// Where the registry's figure replaced <see cref="Account.Spent"/>, the part of this replica's use
    /// it may not include yet (<see cref="Account.OwnSettledBeforeRecorded"/>) is counted as spent too.
    /// </summary>
    private static decimal BudgetShare(Account account, KeyBudget budget, int live)
    {
        var pool = account.BudgetRemaining
            ?? Math.Max(0m, budget.MaxCostUsd - account.Spent - account.OwnSettledBeforeRecorded - account.Reserved - Math.Min(0m, account.BudgetLease));
        return pool / Math.Max(1, live);
    }

    private static QuotaDecision Charge(Account account, QuotaDemand demand, long tokens, decimal cost, long minute)
    {
        var limits = demand.Limits;
        if (limits.RequestsPerMinute is not null)
        {
            account.RequestsLease--;
        }

        var tokensLeased = limits.TokensPerMinute is not null;
        if (tokensLeased)
        {
            account.TokensLease -= tokens;
        }

        DateTimeOffset? periodStart = null;
        var overdraft = 0m;
        if (demand.Budget is not null)
        {
            // A request is admitted while the lease is above zero, whatever its estimate; the part of
            // the estimate the lease did not cover is reserved here but never charged as spend.
            overdraft = cost - Math.Min(cost, Math.Max(0m, account.BudgetLease));
            account.BudgetLease -= cost;
            account.BudgetOverdraft += overdraft;
            account.BudgetReserved += cost;
            periodStart = account.PeriodStart;
        }

        account.RequestsUsed++;
        account.TokensUsed += tokens;
        account.InFlight++;
        account.Reserved += cost;
        var ticket = new QuotaTicket(account.KeyId, minute, tokens, cost) { TokensLeased = tokensLeased, BudgetPeriodStart = periodStart, BudgetOverdraft = overdraft };
        return new QuotaDecision(ticket, QuotaRefusalReason.None, null);
    }

    /// <summary>
    /// What to ask in one round trip: every limited dimension below a quarter of a block or short of
    /// this request's need, plus use beyond the leases to charge. Charges move into the refill (the
    /// leases stop being negative) and are put back if it fails. Null when there is nothing to ask.
    /// </summary>
    private Refill? PlanRefill(Account account, QuotaDemand demand, long tokens, decimal cost, DateTimeOffset now, bool includeSlots)
    {
        // Asks are structs and nothing is allocated unless something is asked: this runs after every admission.
        var limits = demand.Limits;
        var nowTicks = now.UtcTicks;
        var live = _liveReplicas;
        QuotaWindowAsk? requestsAsk = null, tokensAsk = null;
        QuotaBudgetAsk? budgetAsk = null;
        QuotaSlotAsk? slotsAsk = null;
        long requestsCharge = 0, tokensCharge = 0;
        var budgetCharge = 0m;

        if (limits.RequestsPerMinute is { } rpm)
        {
            var size = LeaseSize(rpm, account.RequestsPerSecond, live);
            var charge = Math.Max(0, -account.RequestsLease);
            var exhausted = account.IsExhausted(QuotaRefusalReason.RequestsPerMinute, nowTicks);
            if (charge > 0 || (!exhausted && account.RequestsLease < Math.Max(1, size / 4)))
            {
                requestsCharge = charge;
                requestsAsk = new QuotaWindowAsk(rpm, exhausted ? 0 : Math.Max(size, account.WaitingRequests - account.RequestsLease), charge);
            }
        }

        if (limits.TokensPerMinute is { } tpm)
        {
            var block = LeaseSize(tpm, account.TokensPerSecond, live);
            var charge = Math.Max(0, -account.TokensLease);
            var exhausted = account.IsExhausted(QuotaRefusalReason.TokensPerMinute, nowTicks);
            if (charge > 0 || (!exhausted && account.TokensLease < Math.Max(tokens, Math.Max(1, block / 4))))
            {
                tokensCharge = charge;
                var want = exhausted ? 0 : Math.Max(block, tokens + account.WaitingTokens - (account.TokensLease + charge));
                tokensAsk = new QuotaWindowAsk(tpm, want, charge);
            }
        }

        if (demand.Budget is { } budget)
        {
            var block = Block(budget.MaxCostUsd);
            var charge = account.BudgetDebt;
            var exhausted = account.IsExhausted(QuotaRefusalReason.Budget, nowTicks);
            if (charge > 0m || account.BudgetUnverified || (!exhausted && (account.BudgetLease <= 0m || account.BudgetLease < Math.Max(cost, block / 4))))
            {
                budgetCharge = charge;
                var want = exhausted ? 0m : Math.Max(block, cost + account.WaitingCost - (account.BudgetLease + charge));
                budgetAsk = new QuotaBudgetAsk(ToRegistry(budget.Period), budget.MaxCostUsd, want, charge)
                {
                    Held = account.LeaseHeldAfter(charge),
                };
            }
        }

        if (includeSlots && limits.MaxParallelRequests is { } parallel && account.InFlight >= account.SlotsHeld
            && !account.IsExhausted(QuotaRefusalReason.ParallelRequests, nowTicks))
        {
            slotsAsk = new QuotaSlotAsk(parallel, (int)Math.Max(Block(parallel), account.InFlight + 1 - account.SlotsHeld));
        }

        if (requestsAsk is null && tokensAsk is null && budgetAsk is null && slotsAsk is null)
        {
            return null;
        }

        // The charges travel with the refill: the leases stop being negative, and are put back if it fails.
        account.RequestsLease += requestsCharge;
        account.TokensLease += tokensCharge;
        account.BudgetLease += budgetCharge;
        var request = new QuotaGrantRequest(account.KeyId, ReplicaId, now) { Requests = requestsAsk, Tokens = tokensAsk, Budget = budgetAsk, Slots = slotsAsk };
        return new Refill(request, account.Minute, account.PeriodStart, Volatile.Read(ref _slotEpoch))
        {
            RequestsCharge = requestsCharge,
            TokensCharge = tokensCharge,
            BudgetCharge = budgetCharge,
        };
    }

    private async Task RefillAsync(Account account, Refill plan, TaskCompletionSource done)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_options.RefillTimeout);
            if (plan.Request.Slots is not null && PresenceIsStale(_time.GetUtcNow()))
            {
                // Heartbeats pause while a replica needs no liveness, and the others forget it: be
                // counted alive again before holding slots, or they would not count them. A rejoin
                // reported now drops only slots granted before it, so this grant counts in the new epoch.
                await SharedHeartbeatAsync(PresenceIsStale).WaitAsync(timeout.Token);
                if (_degraded)
                {
                    throw new TimeoutException("The shared quota counters did not answer the heartbeat before a slot grant.");
                }

                plan.SlotEpoch = Volatile.Read(ref _slotEpoch);
            }

            if (plan.Request.Slots is not null && TakeSlotsInDoubt(account) is { } held)
            {
                // A slot grant or return of this key lost its answer, so the ledger may count slots
                // this replica does not hold; a busy key never reaches the idle pass that would say
                // so. Said first (one more round trip, only then), or the ledger's count could grow
                // to the key's limit with every blip and refuse it everywhere.
                await _ledger.ReturnAsync(new QuotaReturn(account.KeyId, ReplicaId, WindowStartOf(plan.Minute)) { SlotsKept = held }, timeout.Token);
            }

            var grant = await _ledger.GrantAsync(plan.Request, _options.ReplicaTtl, timeout.Token);
            PresenceCarried(new ReplicaPresence(ReplicaId, plan.Request.Now, _options.ReplicaTtl), grant.Present, grant.LiveReplicas);
            Apply(account, plan, grant);
            MarkAvailable();
        }
        catch (Exception ex)
        {
            lock (account.Gate)
            {
                UndoCharges(account, plan);

                // A slot grant whose answer was lost may have counted slots for this replica that it
                // does not know it holds: its next return says what it holds (Account.SlotsInDoubt).
                if (plan.Request.Slots is not null)
                {
                    account.SlotsInDoubt = true;
                }
            }

            MarkUnavailable(ex);
        }
        finally
        {
            lock (account.Gate)
            {
                account.Refill = null;
            }

            done.SetResult();
        }
    }

    /// <summary>The slots the key holds, when the ledger may count others for it; null when it may not.</summary>
    private static int? TakeSlotsInDoubt(Account account)
    {
        lock (account.Gate)
        {
            if (!account.SlotsInDoubt)
            {
                return null;
            }

            account.SlotsInDoubt = false;
            return account.SlotsHeld;
        }
    }

    private void Apply(Account account, Refill plan, QuotaGrant grant)
    {
        var request = plan.Request;
        var nowTicks = _time.GetUtcNow().UtcTicks;
        lock (account.Gate)
        {
            // A grant for a window or period that has ended meanwhile is worth nothing now.
            if (account.Minute == plan.Minute)
            {
                account.RequestsLease += grant.Requests;
                account.TokensLease += grant.Tokens;
                // A short grant, or one that took the rest, leaves the window's pool empty: asking
                // again before the window ends would only cost a round trip per refused request (a
                // lease another replica gives back clears this, see ListenForReturnsAsync).
                if (request.Requests is { } requests && (grant.Requests < requests.Want || grant.RequestsLeft == 0))
                {
                    account.RequestsExhaustedUntil = WindowEndTicks(plan.Minute);
                }

                if (request.Tokens is { } tokens && (grant.Tokens < tokens.Want || grant.TokensLeft == 0))
                {
                    account.TokensExhaustedUntil = WindowEndTicks(plan.Minute);
                }
            }

            if (request.Budget is { } budget && account.PeriodStart == plan.PeriodStart)
            {
                account.BudgetGranted(budget, grant, request.Now);
                account.BudgetRemaining = grant.BudgetRemainingUsd;
                if (grant.BudgetUsd < budget.Want)
                {
                    account.BudgetExhaustedUntil = nowTicks + ExhaustedRecheck.Ticks;
                }
            }

            // Slots granted before a lapsed heartbeat dropped this replica's slots are not held any more.
            if (plan.SlotEpoch == Volatile.Read(ref _slotEpoch))
            {
                account.SlotsHeld += grant.Slots;
            }

            if (request.Slots is { } slots && grant.Slots < slots.Want)
            {
                account.SlotsExhaustedUntil = nowTicks + SlotsRecheck.Ticks;
            }
        }
    }

    private static void UndoCharges(Account account, Refill plan)
    {
        if (account.Minute == plan.Minute)
        {
            account.RequestsLease -= plan.RequestsCharge;
            account.TokensLease -= plan.TokensCharge;
        }

        if (account.PeriodStart == plan.PeriodStart)
        {
            account.BudgetLease -= plan.BudgetCharge;
        }
    }

    private void MarkUnavailable(Exception exception)
    {
        if (!_degraded)
        {
            _degraded = true;
            Log.Degraded(_logger, exception.GetType().Name, exception.Message, _liveReplicas);
        }
    }

    private void MarkAvailable()
    {
        if (_degraded)
        {
            _degraded = false;
            Log.Recovered(_logger);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(30, LogLevel.Warning, "The shared quota counters are unreachable ({ErrorType}: {ErrorMessage}); admitting each key up to this replica's share of its limits (1/{LiveReplicas})")]
        public static partial void Degraded(ILogger logger, string errorType, string errorMessage, int liveReplicas);

        [LoggerMessage(31, LogLevel.Information, "The shared quota counters answer again; limits hold across replicas")]
        public static partial void Recovered(ILogger logger);

        [LoggerMessage(33, LogLevel.Debug, "Not listening for other replicas' quota returns ({ErrorType}: {ErrorMessage}); retrying in {Retry}")]
        public static partial void ListenFailed(ILogger logger, string errorType, string errorMessage, TimeSpan retry);

        [LoggerMessage(32, LogLevel.Warning, "Giving back quota leases at shutdown failed ({ErrorType}: {ErrorMessage}); requests and tokens stay counted until their window ends, dollars and parallel slots until this replica's heartbeat lapses")]
        public static partial void LeaveFailed(ILogger logger, string errorType, string errorMessage);
    }
}
