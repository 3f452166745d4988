using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Leadership;

namespace VirtualKeys.Operator.Runtime.Hosting;

/// <summary>
/// Runs the informers on every replica, so a standby's caches are warm when it takes over, and
/// the controllers' workers only while leading. Nothing is reconciled before every cache has
/// synced. On shutdown the workers stop taking keys, running reconciles get
/// <see cref="ControllerHostOptions.DrainTimeout"/> to finish, and only then is the lease released,
/// so the next leader never overlaps this one's reconciles. A lost lease cancels them at once.
/// </summary>
public sealed class ControllerHost : BackgroundService
{
    private readonly IReadOnlyList<IInformer> _informers;
    private readonly IReadOnlyList<IController> _controllers;
    private readonly LeaderElectionRunner _election;
    private readonly ControllerHostOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public ControllerHost(
        IEnumerable<IInformer> informers,
        IEnumerable<IController> controllers,
        LeaderElectionRunner election,
        IOptions<ControllerHostOptions> options,
        TimeProvider? timeProvider = null,
        ILogger<ControllerHost>? logger = null)
    {
        _informers = [.. informers ?? throw new ArgumentNullException(nameof(informers))];
        _controllers = [.. controllers ?? throw new ArgumentNullException(nameof(controllers))];
        _election = election ?? throw new ArgumentNullException(nameof(election));
        _options = (options ?? throw new ArgumentNullException(nameof(options))).Value;
        _options.Validate();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    public bool IsLeader => _election.IsLeader;

    /// <summary>True once every informer's first list is cached.</summary>
    public bool HasSynced => _informers.All(i => i.HasSynced);

    /// <summary>What <see cref="HasSynced"/> still waits for: each informer's namespaces not listed yet, with the last list's failure.</summary>
    public IReadOnlyList<UnsyncedScope> Unsynced => [.. _informers.SelectMany(i => i.Unsynced)];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopInformers = new CancellationTokenSource();
        var informers = _informers
            .Select(i => Task.Run(() => RunInformerAsync(i, stopInformers.Token), CancellationToken.None))
            .ToList();
        try
        {
            HostingLog.WaitingForCaches(_logger, _informers.Count);
            await Task.WhenAll(_informers.Select(i => i.WaitForCacheSyncAsync(stoppingToken)));
            await _election.RunAsync(lost => LeadAsync(lost, stoppingToken), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var controller in _controllers)
            {
                controller.ShutDown();
            }

            await stopInformers.CancelAsync();
            await Task.WhenAll(informers);
            HostingLog.Stopped(_logger);
        }
    }

    private async Task LeadAsync(CancellationToken lost, CancellationToken stopping)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(lost);
        using var stopAccepting = CancellationTokenSource.CreateLinkedTokenSource(lost, stopping);
        HostingLog.Leading(_logger, _controllers.Count);
        var running = Task.WhenAll(_controllers.Select(c => c.RunAsync(stopAccepting.Token, abort.Token)));
        try
        {
            await running.WaitAsync(stopAccepting.Token);
            return;
        }
        catch (OperationCanceledException) when (stopAccepting.IsCancellationRequested)
        {
        }

        if (!lost.IsCancellationRequested)
        {
            HostingLog.Draining(_logger, _options.DrainTimeout);
            try
            {
                await running.WaitAsync(_options.DrainTimeout, _timeProvider, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                HostingLog.DrainTimedOut(_logger, _options.DrainTimeout);
                await abort.CancelAsync();
            }
        }

        await running;
    }

    private async Task RunInformerAsync(IInformer informer, CancellationToken cancellationToken)
    {
        try
        {
            await informer.RunAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            HostingLog.InformerFailed(_logger, e, informer.Kind);
        }
    }
}
