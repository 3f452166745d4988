using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VirtualKeys.Sidecar.Hosting;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// Keeps the snapshot fed from the source. When the feed breaks the last snapshot keeps being served
/// (degraded) and the service subscribes again with exponential backoff.
/// </summary>
internal sealed partial class SnapshotSyncService : BackgroundService
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly IKeySnapshotSource _source;
    private readonly KeySnapshotStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<SnapshotSyncService> _logger;

    public SnapshotSyncService(
        IKeySnapshotSource source,
        KeySnapshotStore store,
        [FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time,
        ILogger<SnapshotSyncService> logger)
    {
        _source = source;
        _store = store;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = InitialBackoff;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var change in _source.SubscribeAsync(stoppingToken))
                {
                    _store.Apply(change);
                    backoff = InitialBackoff;
                }

                Log.SubscriptionEnded(_logger);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.SubscriptionFailed(_logger, ex.GetType().Name, ex.Message, backoff);
            }

            _store.MarkDegraded();
            try
            {
                await Task.Delay(backoff, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "The key snapshot source ended its subscription; serving the last snapshot and subscribing again")]
        public static partial void SubscriptionEnded(ILogger logger);

        [LoggerMessage(11, LogLevel.Warning, "The key snapshot source failed ({ErrorType}: {ErrorMessage}); serving the last snapshot and retrying in {Backoff}")]
        public static partial void SubscriptionFailed(ILogger logger, string errorType, string errorMessage, TimeSpan backoff);
    }
}
