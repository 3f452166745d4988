using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Observability;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>
/// Resolve-API decisions waiting for their usage report. A decision is settled exactly once: by its
/// report, or at its estimate when its TTL passes (a crashed router must not hold a parallel slot
/// forever), or at shutdown. Registered after the usage flusher so it stops first and its records
/// are still flushed.
/// </summary>
internal sealed partial class DecisionRegistry : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, Decision> _pending = new(StringComparer.Ordinal);
    private readonly UsageRecorder _recorder;
    private readonly DecisionIds _ids;
    private readonly SidecarMetrics _metrics;
    private readonly SidecarOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<DecisionRegistry> _logger;
    private ITimer? _sweeper;
    private int _sweeping;

    public DecisionRegistry(
        UsageRecorder recorder,
        DecisionIds ids,
        SidecarMetrics metrics,
        SidecarOptions options,
        [FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time,
        ILogger<DecisionRegistry> logger)
    {
        _recorder = recorder;
        _ids = ids;
        _metrics = metrics;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public int PendingCount => _pending.Count;

    public void Add(Decision decision) => _pending[decision.Id] = decision;

    public async ValueTask<ReportResult> ReportAsync(string decisionId, UsageRecorder.Completion completion)
    {
        if (_pending.TryRemove(decisionId, out var decision) && decision.TryClaim())
        {
            var cost = await _recorder.SettleAsync(decision, completion with { Provider = completion.Provider ?? decision.Candidates[0].Name });
            return new ReportResult(ReportStatus.Recorded, cost);
        }

        return _ids.WasIssued(decisionId) ? new ReportResult(ReportStatus.AlreadySettled, null) : new ReportResult(ReportStatus.Unknown, null);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(_options.DecisionTtl.Ticks / 4, TimeSpan.TicksPerMillisecond * 100, TimeSpan.TicksPerSecond * 5));
        _sweeper = _time.CreateTimer(static state => ((DecisionRegistry)state!).Sweep(), this, period, period);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sweeper is not null)
        {
            await _sweeper.DisposeAsync();
        }

        var abandoned = 0;
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var decision) && decision.TryClaim())
            {
                await _recorder.SettleAsync(decision, AtEstimate(decision, "sidecar_shutdown"));
                abandoned++;
            }
        }

        if (abandoned > 0)
        {
            Log.SettledAtShutdown(_logger, abandoned);
        }
    }

    public void Dispose() => _sweeper?.Dispose();

    /// <summary>Runs synchronously on the timer when the quota store completes synchronously (the local one does).</summary>
    internal void Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        _ = SweepAsync();
    }

    private static UsageRecorder.Completion AtEstimate(Decision decision, string detail) =>
        new(decision.EstimatedInputTokens, decision.MaxOutputTokens, UsageOutcome.Expired, detail, Estimated: true);

    private async Task SweepAsync()
    {
        try
        {
            _metrics.InFlightDecisions.Set(_pending.Count);
            var now = _time.GetUtcNow();
            foreach (var (id, decision) in _pending)
            {
                if (now < decision.ExpiresAt || !_pending.TryRemove(id, out _) || !decision.TryClaim())
                {
                    continue;
                }

                await _recorder.SettleAsync(decision, AtEstimate(decision, "decision_expired"));
                _metrics.ExpiredDecisions.Inc();
                Log.DecisionExpired(_logger, decision.Key.DisplayName, _options.DecisionTtl);
            }
        }
        catch (Exception ex)
        {
            Log.SweepFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    internal enum ReportStatus
    {
        Recorded,
        AlreadySettled,
        Unknown,
    }

    internal readonly record struct ReportResult(ReportStatus Status, decimal? CostUsd);

    private static partial class Log
    {
        [LoggerMessage(30, LogLevel.Information, "A decision for key {Key} was not reported within {Ttl}; settled at its estimate and its slot released")]
        public static partial void DecisionExpired(ILogger logger, string key, TimeSpan ttl);

        [LoggerMessage(31, LogLevel.Warning, "{Count} unreported decisions were settled at their estimate at shutdown")]
        public static partial void SettledAtShutdown(ILogger logger, int count);

        [LoggerMessage(32, LogLevel.Error, "Sweeping expired decisions failed")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }
}
