using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VirtualKeys.Model;
using VirtualKeys.Operator.Api;
using VirtualKeys.Operator.Events;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Operator.Usage;

/// <summary>
/// Copies each key's usage in its current budget period from the registry onto status.usage.
/// Runs only on the leader (the controller host starts it like a controller). Each round reads
/// the totals of every registered key with one query per period kind, and writes only the keys
/// whose totals differ from their status, each at most once per
/// <see cref="UsageSyncerOptions.Interval"/> and all under <see cref="UsageSyncerOptions.Qps"/>.
/// A new period shows as fresh totals with the new period start. Crossing the alert threshold
/// sets condition BudgetAlert; an exhausted budget turns Ready to False with reason
/// BudgetExhausted (the reconciler reaches the same verdict from the same status), each with a
/// Warning Event. It turns Ready only for a generation the reconciler has already judged, and never
/// writes observedGeneration.
/// </summary>
public sealed partial class UsageSyncer(
    IResourceCache<VirtualKey> keys,
    VirtualKeyRegistry registry,
    VirtualKeyApi api,
    EventRecorder events,
    OperatorMetrics metrics,
    IExternalCallObserver observer,
    IOptions<UsageSyncerOptions> options,
    TimeProvider timeProvider,
    ILogger<UsageSyncer> logger) : IController
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastWrite = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutDown = new();
    private DateTimeOffset _nextSlot = DateTimeOffset.MinValue;

    public string Name => "usage-syncer";

    public async Task RunAsync(CancellationToken stopAccepting, CancellationToken abortInFlight)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopAccepting, _shutDown.Token);
        var tick = Clamp(options.Value.Interval / 2, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await SyncOnceAsync(abortInFlight);
            }
            catch (OperationCanceledException) when (abortInFlight.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                Log.RoundFailed(logger, e.Message);
            }

            try
            {
                await Task.Delay(tick, timeProvider, stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void ShutDown() => _shutDown.Cancel();

    /// <summary>One round; returns how many statuses it wrote.</summary>
    public async Task<int> SyncOnceAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var registered = keys.List()
            .Where(k => k.Metadata.DeletionTimestamp is null && !string.IsNullOrEmpty(k.Status?.KeyId))
            .ToList();
        var written = 0;
        var oldestPending = TimeSpan.Zero;
        foreach (var group in registered.GroupBy(BudgetState.PeriodOf))
        {
            observer.BeforeCall("registry:usage");
            var totals = await registry.GetUsageAsync([.. group.Select(k => k.Status!.KeyId!).Distinct(StringComparer.Ordinal)], group.Key, now, cancellationToken);
            foreach (var key in group)
            {
                if (!totals.TryGetValue(key.Status!.KeyId!, out var usage))
                {
                    continue;
                }

                if (BudgetState.Cap(key) is { } cap)
                {
                    metrics.BudgetUsed(key.Metadata.NamespaceProperty, key.Metadata.Name, (double)(usage.CostUsd / cap));
                }

                var desired = Desired(key, usage, now);
                if (desired is null)
                {
                    continue;
                }

                if (_lastWrite.TryGetValue(key.Metadata.Uid, out var last) && now - last < options.Value.Interval)
                {
                    oldestPending = Max(oldestPending, now - (usage.LastRequestAt ?? now));
                    continue;
                }

                await PaceAsync(cancellationToken);
                if (await WriteAsync(key, usage, desired, now, cancellationToken))
                {
                    written++;
                }
            }
        }

        metrics.UsageSyncLag(oldestPending);
        return written;
    }

    /// <summary>The status this key should show, or null when it already does.</summary>
    private static VirtualKeyStatus? Desired(VirtualKey key, UsageTotals totals, DateTimeOffset now)
    {
        var usage = new UsageStatus
        {
            PeriodStart = totals.PeriodStart,
            Requests = totals.Requests,
            InputTokens = totals.InputTokens,
            OutputTokens = totals.OutputTokens,
            CostUsd = UsdAmount.Format(totals.CostUsd),
            Rejections = totals.Rejections.Count == 0 ? null : new SortedDictionary<string, long>(totals.Rejections.ToDictionary(), StringComparer.Ordinal),
            LastRequestTime = totals.LastRequestAt,
        };
        if (key.Status?.Usage is null && totals.Requests == 0 && totals.Rejections.Count == 0 && totals.CostUsd == 0)
        {
            // Nothing used yet: leave a new key's status alone rather than write zeros.
            return null;
        }

        var status = StatusConditions.Copy(key.Status);
        status.Usage = usage;
        var cap = BudgetState.Cap(key);
        status.BudgetRemainingUsd = cap is { } c ? UsdAmount.Format(Math.Max(0, c - totals.CostUsd)) : null;

        var probe = new VirtualKey { Metadata = key.Metadata, Spec = key.Spec, Status = status };
        var spend = BudgetState.Spend(probe, now);
        if (cap is { } max && key.Spec.Budget?.AlertAtPercent is { } percent)
        {
            var reached = spend >= max * percent / 100m;
            StatusConditions.Set(
                status,
                ConditionTypes.BudgetAlert,
                reached ? StatusConditions.True : StatusConditions.False,
                reached ? ConditionReasons.AlertThresholdReached : ConditionReasons.BelowAlertThreshold,
                reached ? BudgetMessages.Alert(probe, now) : $"Below {percent}% of the budget.",
                key.Metadata.Generation,
                now);
        }
        else if (StatusConditions.Find(status, ConditionTypes.BudgetAlert) is { } stale)
        {
            status.Conditions.Remove(stale);
        }

        // Only the reconciler judges a spec: Ready follows the budget only while the reconciler's
        // verdict is about the generation the cache holds. A spec applied since (a raised maxCostUsd
        // beside a field that does not validate, say) leaves Ready and observedGeneration as the
        // reconciler wrote them; its next status write moves the resourceVersion this patch is
        // guarded by, so a round that read the key before that write cannot overwrite it.
        var ready = StatusConditions.Find(status, ConditionTypes.Ready);
        var judged = ready is not null
            && key.Status?.ObservedGeneration == key.Metadata.Generation
            && ready.ObservedGeneration == key.Metadata.Generation;
        var exhausted = BudgetState.IsExhausted(probe, now);
        if (judged && exhausted && ready is { Status: StatusConditions.True } or { Reason: ConditionReasons.BudgetExhausted })
        {
            // Also while it stays exhausted: the message says what was spent, in which period.
            StatusConditions.Set(status, ConditionTypes.Ready, StatusConditions.False, ConditionReasons.BudgetExhausted, BudgetMessages.Exhausted(probe, now), ready.ObservedGeneration, now);
        }
        else if (judged && !exhausted && ready is { Reason: ConditionReasons.BudgetExhausted })
        {
            StatusConditions.Set(status, ConditionTypes.Ready, StatusConditions.True, ConditionReasons.Reconciled, "The budget is no longer exhausted.", ready.ObservedGeneration, now);
        }

        status.LastUsageSync = key.Status?.LastUsageSync;
        if (StatusConditions.Same(key.Status, status))
        {
            return null;
        }

        status.LastUsageSync = now;
        return status;
    }

    private async Task<bool> WriteAsync(VirtualKey key, UsageTotals usage, VirtualKeyStatus desired, DateTimeOffset now, CancellationToken cancellationToken)
    {
        VirtualKey written;
        try
        {
            written = await api.PatchStatusAsync(key, desired, cancellationToken);
        }
        catch (Exception e) when (VirtualKeyApi.IsConflict(e))
        {
            // Someone wrote the key since our cache saw it: start over from a fresh copy.
            var fresh = await api.ReadStatusAsync(key.Metadata.NamespaceProperty, key.Metadata.Name, cancellationToken);
            var retry = fresh is null ? null : Desired(fresh, usage, now);
            if (fresh is null || retry is null)
            {
                return false;
            }

            try
            {
                written = await api.PatchStatusAsync(fresh, retry, cancellationToken);
                key = fresh;
                desired = retry;
            }
            catch (Exception again) when (VirtualKeyApi.IsConflict(again))
            {
                return false;
            }
        }

        _lastWrite[key.Metadata.Uid] = now;
        metrics.UsageWritten();
        Log.UsageWritten(logger, key.Metadata.NamespaceProperty, key.Metadata.Name, usage.Requests);

        // A new budget period is news of its own: spent again within minutes of its start, the key may
        // never have been seen with its budget open, and its conditions carry over unchanged.
        var newPeriod = key.Status?.Usage?.PeriodStart is { } periodBefore
            && desired.Usage?.PeriodStart is { } periodAfter
            && periodBefore != periodAfter;
        var alertBefore = StatusConditions.Find(key.Status, ConditionTypes.BudgetAlert);
        var alertAfter = StatusConditions.Find(desired, ConditionTypes.BudgetAlert);
        if (alertAfter is { Status: StatusConditions.True } && (alertBefore?.Status != StatusConditions.True || newPeriod))
        {
            await events.RecordAsync(written, EventRecorder.Warning, ConditionTypes.BudgetAlert, alertAfter.Message, cancellationToken);
        }

        var readyBefore = StatusConditions.Find(key.Status, ConditionTypes.Ready);
        var readyAfter = StatusConditions.Find(desired, ConditionTypes.Ready);
        if (readyAfter is { Reason: ConditionReasons.BudgetExhausted } && (readyBefore?.Reason != ConditionReasons.BudgetExhausted || newPeriod))
        {
            await events.RecordAsync(written, EventRecorder.Warning, ConditionReasons.BudgetExhausted, readyAfter.Message, cancellationToken);
        }

        return true;
    }

    private async Task PaceAsync(CancellationToken cancellationToken)
    {
        var gap = TimeSpan.FromSeconds(1 / options.Value.Qps);
        var now = timeProvider.GetUtcNow();
        if (_nextSlot > now)
        {
            await Task.Delay(_nextSlot - now, timeProvider, cancellationToken);
            now = _nextSlot;
        }

        _nextSlot = now + gap;
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(4201, LogLevel.Debug, "VirtualKey {Namespace}/{Name}: usage synced ({Requests} requests in the current period)")]
        public static partial void UsageWritten(ILogger logger, string @namespace, string name, long requests);

        [LoggerMessage(4202, LogLevel.Warning, "Usage sync round failed: {Problem}")]
        public static partial void RoundFailed(ILogger logger, string problem);
    }
}
