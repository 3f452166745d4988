using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Observability;

namespace VirtualKeys.Sidecar.Metering;

/// <summary>
/// Writes the usage buffer to the sink in batches: when <see cref="SidecarOptions.UsageBatchSize"/>
/// records are queued, or when the oldest queued record (or counted refusal) has waited
/// <see cref="SidecarOptions.UsageFlushInterval"/>, whichever comes first. Counted refusals go with the
/// next batch. A failing sink is retried with backoff, the batch kept; on shutdown everything left is
/// flushed within <see cref="SidecarOptions.UsageShutdownFlushTimeout"/>.
/// </summary>
internal sealed partial class UsageFlushService : IHostedService, IDisposable
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    private readonly UsageBuffer _buffer;
    private readonly IUsageSink _sink;
    private readonly SidecarOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UsageFlushService> _logger;
    private readonly SidecarMetrics? _metrics;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<UsageRecord> _batch = [];
    private int _batchCommitted;
    private Task _loop = Task.CompletedTask;

    public UsageFlushService(
        UsageBuffer buffer,
        IUsageSink sink,
        SidecarOptions options,
        [FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time,
        ILogger<UsageFlushService> logger,
        SidecarMetrics? metrics = null)
    {
        _buffer = buffer;
        _metrics = metrics;
        _sink = sink;
        _options = options;
        _time = time;
        _logger = logger;
        buffer.UseFlushPolicy(options.UsageBatchSize, time);
    }

    /// <summary>True while the sink keeps failing.</summary>
    public bool IsDegraded { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        using var deadline = new CancellationTokenSource(_options.UsageShutdownFlushTimeout);
        try
        {
            await FlushAsync(onlyDue: false, deadline.Token);
        }
        catch (OperationCanceledException)
        {
        }

        var left = _batch.Count;
        while (_buffer.TryTake(out _))
        {
            left++;
        }

        if (left > 0)
        {
            Log.RecordsLostAtShutdown(_logger, left, _options.UsageShutdownFlushTimeout);
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(CancellationToken stopping)
    {
        Task<bool>? wake = null;
        while (true)
        {
            // The wake-up is consumed before the state is read, so a record queued from here on wakes us again.
            _buffer.Wake.TryRead(out _);
            var now = _time.GetUtcNow();
            if (IsDue(now))
            {
                await FlushAsync(onlyDue: true, stopping);
                continue;
            }

            var due = _buffer.OldestQueuedAt + _options.UsageFlushInterval;
            wake ??= _buffer.Wake.WaitToReadAsync(stopping).AsTask();
            if (due is { } at)
            {
                using var interval = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                // Read again after IsDue: a record stamped before a long stall can already be overdue,
                // and a negative delay would throw and end this loop.
                await Task.WhenAny(wake, Task.Delay(at > now ? at - now : TimeSpan.Zero, _time, interval.Token));
                await interval.CancelAsync();
            }
            else
            {
                await Task.WhenAny(wake);
            }

            stopping.ThrowIfCancellationRequested();
            if (wake.IsCompleted)
            {
                if (!await wake)
                {
                    return;
                }

                wake = null;
            }
        }
    }

    /// <summary>A full batch is queued, or the oldest record (or counted refusal) has waited the interval.</summary>
    private bool IsDue(DateTimeOffset now) =>
        _buffer.Queued >= _options.UsageBatchSize || _buffer.OldestQueuedAt + _options.UsageFlushInterval <= now;

    /// <summary>
    /// Writes batches: while one is due (<paramref name="onlyDue"/>), or everything queued (at shutdown).
    /// A batch interrupted by shutdown is still here and goes first.
    /// </summary>
    private async Task FlushAsync(bool onlyDue, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_batch.Count == 0)
            {
                var now = _time.GetUtcNow();
                if (onlyDue && !IsDue(now))
                {
                    return;
                }

                TakeBatch(now);
                if (_batch.Count == 0)
                {
                    return;
                }
            }

            await WriteBatchAsync(cancellationToken);
        }
    }

    private void TakeBatch(DateTimeOffset now)
    {
        while (_batch.Count < _options.UsageBatchSize && _buffer.TryTake(out var record))
        {
            _batch.Add(record);
        }

        _batchCommitted = _batch.Count;
        _buffer.DrainRejections(_batch, now);
    }

    private async Task WriteBatchAsync(CancellationToken cancellationToken)
    {
        await WriteWithRetryAsync(_batch, cancellationToken);
        _buffer.Written(_batchCommitted);
        _batch.Clear();
        _batchCommitted = 0;
    }

    /// <summary>
    /// Writes <paramref name="records"/>, retrying while the sink fails. A batch the sink refuses is
    /// written in halves (a resent part is harmless: the sink deduplicates on record ids) down to the
    /// single records refused, which are logged and counted and not retried.
    /// </summary>
    private async Task WriteWithRetryAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        var backoff = InitialBackoff;
        while (true)
        {
            try
            {
                await _sink.WriteAsync(records, cancellationToken);
                if (IsDegraded)
                {
                    IsDegraded = false;
                    Log.SinkRecovered(_logger);
                }

                return;
            }
            catch (UsageRecordsRefusedException ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (records.Count == 1)
                {
                    var record = records[0];
                    _metrics?.UsageRecordRefused();
                    Log.RecordRefused(_logger, record.RecordId, record.Namespace, record.Name, record.Outcome, record.InputTokens, record.OutputTokens, ex.Message);
                    return;
                }

                var half = records.Count / 2;
                await WriteWithRetryAsync(records.Take(half).ToList(), cancellationToken);
                await WriteWithRetryAsync(records.Skip(half).ToList(), cancellationToken);
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                IsDegraded = true;
                Log.SinkFailed(_logger, records.Count, ex.GetType().Name, ex.Message, backoff);
            }

            await Task.Delay(backoff, _time, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "Writing {Count} usage records failed ({ErrorType}: {ErrorMessage}); keeping them and retrying in {Backoff}")]
        public static partial void SinkFailed(ILogger logger, int count, string errorType, string errorMessage, TimeSpan backoff);

        [LoggerMessage(21, LogLevel.Information, "The usage sink accepts records again")]
        public static partial void SinkRecovered(ILogger logger);

        [LoggerMessage(23, LogLevel.Error, "Usage record {RecordId} of key {Namespace}/{Name} ({Outcome}, {InputTokens} input and {OutputTokens} output tokens) is refused by the usage sink and is not recorded: {Reason}")]
        public static partial void RecordRefused(ILogger logger, string recordId, string @namespace, string name, UsageOutcome outcome, long inputTokens, long outputTokens, string reason);

        [LoggerMessage(22, LogLevel.Error, "{Count} usage records could not be written within {Timeout} of shutdown and are lost")]
        public static partial void RecordsLostAtShutdown(ILogger logger, int count, TimeSpan timeout);
    }
}
