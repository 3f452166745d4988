using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.Sidecar.Registry;

/// <summary>
/// Writes the sidecar's usage to the registry. Failures propagate so the sidecar's buffer keeps the
/// batch and sends it again; the registry counts each request id once, so a resent batch is harmless.
/// </summary>
/// <remarks>
/// An aggregated refusal record (the refusals of one key and cause since the last write) becomes one
/// event carrying its count, under the record's id, which a retried batch keeps: a storm of refusals
/// costs one row per key, cause and batch. Served requests are one event each. After a write, the
/// sink folds the registry's pending usage into its totals when <see cref="UsageFoldSchedule"/> says so.
/// </remarks>
public sealed partial class RegistryUsageSink : IUsageSink
{
    private readonly VirtualKeyRegistry _registry;
    private readonly IQuotaPresence? _presence;
    private readonly IChangeVersionObserver? _versions;
    private readonly UsageFoldSchedule _folds;
    private readonly ILogger _logger;
    private int _folding;

    /// <param name="presence">The shared quota store, whose replica's presence each batch carries while it needs one.</param>
    /// <param name="versions">The snapshot source, told the registry's change version each batch reads.</param>
    /// <param name="time">The clock of the fold schedule; null for the system clock.</param>
    public RegistryUsageSink(
        VirtualKeyRegistry registry,
        IQuotaPresence? presence = null,
        IChangeVersionObserver? versions = null,
        TimeProvider? time = null,
        ILogger<RegistryUsageSink>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _registry = registry;
        _presence = presence;
        _versions = versions;
        _folds = new UsageFoldSchedule(time ?? TimeProvider.System);
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    public async Task WriteAsync(IReadOnlyList<UsageRecord> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var events = ToEvents(batch);
        if (events.Count == 0)
        {
            return;
        }

        var presence = _presence?.PresenceToCarry();
        UsageBatchResult result;
        try
        {
            result = await _registry.RecordUsageAsync(events, presence, cancellationToken);
        }
        catch (Exception ex) when (IsRefusal(ex))
        {
            throw new UsageRecordsRefusedException($"The registry refuses this batch of {events.Count} usage records: {ex.Message}", ex);
        }

        _versions?.ObserveChangeVersion(result.ChangeVersion);
        if (presence is { } carried)
        {
            _presence!.PresenceCarried(carried, result.Present, result.LiveReplicas);
        }

        if (_folds.Written(events.Count))
        {
            StartFold();
        }
    }

    /// <summary>The fold running in the background, if any (tests wait for it).</summary>
    internal Task? RunningFold { get; private set; }

    /// <summary>
    /// Folds beside the usage writes, never in their way: batches go on while PostgreSQL folds, and
    /// a shutdown's last batches do not wait for it (a fold cut off by the process ending is rolled
    /// back whole). One fold at a time per sidecar; a failed one is logged and tried again after its
    /// interval. The pending rows it leaves are read all the same.
    /// </summary>
    private void StartFold()
    {
        if (Interlocked.CompareExchange(ref _folding, 1, 0) != 0)
        {
            return;
        }

        RunningFold = Task.Run(async () =>
        {
            try
            {
                await _registry.FoldUsageAsync(CancellationToken.None);
            }
            catch (ObjectDisposedException)
            {
                // The sidecar stopped and closed the registry under the fold, which PostgreSQL rolled back.
            }
            catch (Exception ex)
            {
                Log.FoldFailed(_logger, ex.GetType().Name, ex.Message);
            }
            finally
            {
                _folds.Folded();
                Volatile.Write(ref _folding, 0);
            }
        });
    }

    /// <summary>
    /// What the records hold, not the connection: a value PostgreSQL cannot store (class 22, data
    /// exception) or a constraint it breaks (class 23), or an event the registry's own checks refuse.
    /// </summary>
    private static bool IsRefusal(Exception ex) =>
        ex is ArgumentException || (ex is PostgresException pg && (pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal)));

    internal static List<UsageEvent> ToEvents(IReadOnlyList<UsageRecord> batch)
    {
        var events = new List<UsageEvent>(batch.Count);
        foreach (var record in batch)
        {
            // Refusals cost nothing, so no budget needs them before the next fold.
            if (record.Outcome == UsageOutcome.Rejected)
            {
                events.Add(new UsageEvent(
                    record.RecordId, record.KeyId, record.Timestamp, record.Model, record.Provider, 0, 0, 0, RejectionCause(record.Detail), Math.Max(1, record.Count), CountsForBudget: false));
            }
            else
            {
                events.Add(new UsageEvent(
                    record.RecordId, record.KeyId, record.Timestamp, record.Model, record.Provider, record.InputTokens, record.OutputTokens, record.CostUsd,
                    CountsForBudget: record.KeyHasBudget));
            }
        }

        return events;
    }

    /// <summary>
    /// The sidecar's refusal codes in the names status.usage.rejections uses (VirtualKeys.Model's
    /// RejectionCauses, spelled out here so the sidecar binary does not carry the Kubernetes client).
    /// </summary>
    internal static string RejectionCause(string? refusalCode) => refusalCode switch
    {
        "rate_limit_rpm" => "rpm",
        "rate_limit_tpm" => "tpm",
        "rate_limit_parallel" => "parallel",
        "budget_exhausted" => "budget",
        "key_expired" => "expired",
        "key_suspended" => "suspended",
        "model_not_allowed" or "model_not_found" => "model",
        { Length: > 0 } other => other,
        _ => "other",
    };

    private static partial class Log
    {
        [LoggerMessage(24, LogLevel.Warning, "Folding the registry's pending usage into its totals failed ({ErrorType}: {ErrorMessage}); the usage stays pending (and is read) until the next fold")]
        public static partial void FoldFailed(ILogger logger, string errorType, string errorMessage);
    }
}
