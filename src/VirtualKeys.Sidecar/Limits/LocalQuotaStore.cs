using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// Exact quota accounting for a single replica.
/// <list type="bullet">
/// <item>RPM and TPM use fixed one-minute windows aligned to the UTC minute; Retry-After is the time to
/// the next window. TPM counts the estimate of every request admitted in the window, corrected to the
/// actual usage when the request settles within the same window.</item>
/// <item>A request is admitted while spent + reserved is below the budget, so concurrent requests can
/// overshoot the cap by at most their in-flight estimates (and by any use beyond the estimate).
/// Reservations live until settlement even across a period rollover; spend restarts at zero.</item>
/// </list>
/// </summary>
/// <remarks>
/// System.Threading.RateLimiting does not fit: its limiters hand out permits but cannot reserve an
/// estimate and later correct it to actual use (TPM, budget), and four separate limiters would not be
/// atomic together: a request refused by the third would already hold permits of the first two, and a
/// concurrent request could be refused because of them. One small lock per key, held for a handful of
/// arithmetic operations and never across an await, is exact and cheap.
/// </remarks>
public sealed class LocalQuotaStore : IQuotaStore, IRecordedSpendObserver
{
    private static readonly TimeSpan ParallelRetryAfter = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Account> _accounts = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public LocalQuotaStore([FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time)
    {
        _time = time;
    }

    public ValueTask<QuotaDecision> TryAdmitAsync(string keyId, QuotaDemand demand, CancellationToken cancellationToken) =>
        new(TryAdmit(keyId, demand));

    public ValueTask SettleAsync(QuotaTicket ticket, long actualTokens, decimal actualCostUsd, CancellationToken cancellationToken)
    {
        Settle(ticket, actualTokens, actualCostUsd);
        return ValueTask.CompletedTask;
    }

    public QuotaDecision TryAdmit(string keyId, QuotaDemand demand)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        var now = _time.GetUtcNow();
        var minute = now.UtcTicks / TimeSpan.TicksPerMinute;
        var account = _accounts.GetOrAdd(keyId, static _ => new Account());
        var limits = demand.Limits;
        var tokens = Math.Max(0, demand.EstimatedTokens);
        var cost = Math.Max(0m, demand.EstimatedCostUsd);

        lock (account.Gate)
        {
            account.Roll(minute, demand.Budget?.Period ?? account.Period, now);

            if (demand.Budget is { } budget && account.Spent + account.Reserved >= budget.MaxCostUsd)
            {
                return Refuse(QuotaRefusalReason.Budget, BudgetPeriods.NextStart(budget.Period, now) - now, budget.MaxCostUsd <= 0);
            }

            if (limits.RequestsPerMinute is { } rpm && account.Requests >= rpm)
            {
                return Refuse(QuotaRefusalReason.RequestsPerMinute, ToNextMinute(minute, now), rpm <= 0);
            }

            // Max(tokens, 1): a request without an estimate still needs room left in the window.
            if (limits.TokensPerMinute is { } tpm && account.Tokens + Math.Max(tokens, 1) > tpm)
            {
                return Refuse(QuotaRefusalReason.TokensPerMinute, ToNextMinute(minute, now), tokens > tpm);
            }

            if (limits.MaxParallelRequests is { } parallel && account.InFlight >= parallel)
            {
                return Refuse(QuotaRefusalReason.ParallelRequests, ParallelRetryAfter, parallel <= 0);
            }

            account.Requests++;
            account.Tokens += tokens;
            account.InFlight++;
            account.Reserved += cost;
        }

        return new QuotaDecision(new QuotaTicket(keyId, minute, tokens, cost), QuotaRefusalReason.None, null);
    }

    public void Settle(QuotaTicket ticket, long actualTokens, decimal actualCostUsd)
    {
        if (!_accounts.TryGetValue(ticket.KeyId, out var account))
        {
            return;
        }

        var now = _time.GetUtcNow();
        lock (account.Gate)
        {
            account.Roll(now.UtcTicks / TimeSpan.TicksPerMinute, account.Period, now);
            account.InFlight = Math.Max(0, account.InFlight - 1);
            if (ticket.MinuteWindow == account.Minute)
            {
                account.Tokens = Math.Max(0, account.Tokens - ticket.ReservedTokens + Math.Max(0, actualTokens));
            }

            account.Reserved = Math.Max(0m, account.Reserved - ticket.ReservedCostUsd);
            account.Spent += Math.Max(0m, actualCostUsd);
        }
    }

    /// <summary>
    /// Takes in spend recorded elsewhere (the registry's total for the current period, from earlier runs
    /// or other replicas): the key's spend becomes the larger of the two, so a restart does not hand a
    /// key its budget again.
    /// </summary>
    public void ObserveRecordedSpend(string keyId, BudgetPeriod period, decimal spentUsd)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        var now = _time.GetUtcNow();
        var account = _accounts.GetOrAdd(keyId, static _ => new Account());
        lock (account.Gate)
        {
            account.Roll(now.UtcTicks / TimeSpan.TicksPerMinute, period, now);
            account.Spent = Math.Max(account.Spent, spentUsd);
        }
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
            account.Roll(now.UtcTicks / TimeSpan.TicksPerMinute, account.Period, now);
            return new QuotaAccountState(account.Requests, account.Tokens, account.InFlight, account.Spent, account.Reserved, account.PeriodStart);
        }
    }

    private static QuotaDecision Refuse(QuotaRefusalReason reason, TimeSpan? retryAfter, bool neverFits) =>
        new(default, reason, retryAfter, neverFits);

    private static TimeSpan ToNextMinute(long minute, DateTimeOffset now) =>
        TimeSpan.FromTicks(((minute + 1) * TimeSpan.TicksPerMinute) - now.UtcTicks);

    private sealed class Account
    {
        public readonly Lock Gate = new();
        public long Minute;
        public long Requests;
        public long Tokens;
        public int InFlight;
        public BudgetPeriod Period = BudgetPeriod.Total;
        public DateTimeOffset PeriodStart = DateTimeOffset.MinValue;
        public DateTimeOffset? PeriodEnd;
        public decimal Spent;
        public decimal Reserved;

        public void Roll(long minute, BudgetPeriod period, DateTimeOffset now)
        {
            if (minute != Minute)
            {
                Minute = minute;
                Requests = 0;
                Tokens = 0;
            }

            if (period == Period && (PeriodEnd is null || now < PeriodEnd.Value))
            {
                return;
            }

            var start = BudgetPeriods.Start(period, now);
            if (start != PeriodStart)
            {
                Spent = 0m;
            }

            Period = period;
            PeriodStart = start;
            PeriodEnd = BudgetPeriods.NextStart(period, now);
        }
    }
}
