using System.Net;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Operator.Runtime.Metrics;

namespace VirtualKeys.Operator.Runtime.Leadership;

/// <summary>
/// Runs work only while this process holds a Lease, through KubernetesClient's
/// <see cref="LeaderElector"/> and <see cref="LeaseLock"/>. A lost lease cancels the work's token
/// at once and the runner campaigns again; a graceful stop keeps renewing the lease until the
/// work has returned, then releases it so a standby takes over without waiting for it to expire.
/// </summary>
public sealed class LeaderElectionRunner
{
    private readonly IKubernetes? _client;
    private readonly LeaderElectionOptions _options;
    private readonly ControllerMetrics? _metrics;
    private readonly ILogger _logger;
    private volatile bool _isLeader;

    public LeaderElectionRunner(
        IKubernetes? client,
        LeaderElectionOptions options,
        ILogger<LeaderElectionRunner>? logger = null,
        ControllerMetrics? metrics = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _options.Validate();
        if (_options.Enabled && client is null)
        {
            throw new ArgumentNullException(nameof(client), "Leader election needs a Kubernetes client.");
        }

        _client = client;
        _metrics = metrics;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    public string Identity => _options.Identity;

    public bool IsLeader => _isLeader;

    /// <summary>
    /// Campaigns until <paramref name="cancellationToken"/> is cancelled. Each time this process
    /// wins, <paramref name="onLeading"/> runs with a token that is cancelled the moment the lease
    /// is lost. Cancelling <paramref name="cancellationToken"/> while leading does not cancel that
    /// token: the lease stays renewed until <paramref name="onLeading"/> returns (it should watch
    /// for shutdown itself and drain), and is then released. If <paramref name="onLeading"/>
    /// returns on its own, the lease is released and this method returns.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task> onLeading, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onLeading);
        if (!_options.Enabled)
        {
            await LeadWithoutElectionAsync(onLeading, cancellationToken);
            return;
        }

        LeadershipLog.Campaigning(_logger, Identity, _options.LeaseNamespace, _options.LeaseName);
        while (!cancellationToken.IsCancellationRequested)
        {
            var lost = await RunTermAsync(onLeading, cancellationToken);
            if (!lost)
            {
                return;
            }

            try
            {
                await Task.Delay(_options.RetryPeriod, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Gives up the lease if this identity holds it: the holder is emptied, which KubernetesClient's
    /// and client-go's electors both read as free, so a standby takes it on its next attempt.
    /// </summary>
    public async Task<bool> ReleaseAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled || _client is null)
        {
            return false;
        }

        try
        {
            var lease = await _client.CoordinationV1.ReadNamespacedLeaseAsync(
                _options.LeaseName, _options.LeaseNamespace, cancellationToken: cancellationToken);
            if (lease.Spec?.HolderIdentity != Identity)
            {
                return false;
            }

            lease.Spec.HolderIdentity = string.Empty;
            lease.Spec.LeaseDurationSeconds = 1;
            lease.Spec.RenewTime = DateTime.UtcNow;
            await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(
                lease, _options.LeaseName, _options.LeaseNamespace, cancellationToken: cancellationToken);
            LeadershipLog.Released(_logger, Identity, _options.LeaseNamespace, _options.LeaseName);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Gone, or taken over since we read it: nothing of ours left to release.
            return false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LeadershipLog.ReleaseFailed(_logger, e, Identity, _options.LeaseNamespace, _options.LeaseName);
            return false;
        }
    }

    private async Task LeadWithoutElectionAsync(Func<CancellationToken, Task> onLeading, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        LeadershipLog.ElectionDisabled(_logger, Identity);
        SetLeader(true);
        try
        {
            await onLeading(CancellationToken.None);
        }
        finally
        {
            SetLeader(false);
        }
    }

    /// <returns>True when the lease was lost while the caller still wants to lead.</returns>
    private async Task<bool> RunTermAsync(Func<CancellationToken, Task> onLeading, CancellationToken cancellationToken)
    {
        using var electorStop = new CancellationTokenSource();
        using var term = new CancellationTokenSource();
        Task? leading = null;
        var lostInvoluntarily = false;

        using var elector = new LeaderElector(new LeaderElectionConfig(
            new LeaseLock(_client!, _options.LeaseNamespace, _options.LeaseName, Identity))
        {
            LeaseDuration = _options.StandbyWait,
            RenewDeadline = _options.RenewDeadline,
            RetryPeriod = _options.RetryPeriod,
        });
        elector.OnStartedLeading += () =>
        {
            SetLeader(true);
            LeadershipLog.StartedLeading(_logger, Identity, _options.LeaseNamespace, _options.LeaseName);
            var work = Task.Run(() => onLeading(term.Token), CancellationToken.None);
            Volatile.Write(ref leading, work);

            // Work that ends by itself ends the term: stop renewing so the lease can be released.
            _ = work.ContinueWith(
                _ => CancelQuietly(electorStop),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        };
        elector.OnStoppedLeading += () =>
        {
            SetLeader(false);
            lostInvoluntarily = !electorStop.IsCancellationRequested;
            CancelQuietly(term);
            if (lostInvoluntarily)
            {
                LeadershipLog.LostLease(_logger, Identity, _options.LeaseNamespace, _options.LeaseName);
            }
        };
        elector.OnNewLeader += leader => LeadershipLog.NewLeader(_logger, _options.LeaseNamespace, _options.LeaseName, leader);
        elector.OnError += e => LeadershipLog.ElectionError(_logger, e, _options.LeaseNamespace, _options.LeaseName);

        // A standby stops campaigning at once; a leader keeps renewing until its work has drained.
        using (cancellationToken.Register(() =>
        {
            if (Volatile.Read(ref leading) is null)
            {
                CancelQuietly(electorStop);
            }
        }))
        {
            try
            {
                await elector.RunUntilLeadershipLostAsync(electorStop.Token);
            }
            catch (OperationCanceledException) when (electorStop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                LeadershipLog.ElectionError(_logger, e, _options.LeaseNamespace, _options.LeaseName);
            }
            finally
            {
                // Also ends the renew attempt KubernetesClient leaves running after a missed deadline.
                CancelQuietly(term);
                CancelQuietly(electorStop);
                SetLeader(false);
            }
        }

        var work = Volatile.Read(ref leading);
        if (work is null)
        {
            return !cancellationToken.IsCancellationRequested;
        }

        try
        {
            await work;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LeadershipLog.LeadingFailed(_logger, e, Identity, _options.LeaseNamespace, _options.LeaseName);
        }
        catch (OperationCanceledException)
        {
        }

        if (lostInvoluntarily)
        {
            return !cancellationToken.IsCancellationRequested;
        }

        LeadershipLog.StoppedLeading(_logger, Identity, _options.LeaseNamespace, _options.LeaseName);
        using var releaseTimeout = new CancellationTokenSource(_options.RenewDeadline);
        try
        {
            await ReleaseAsync(releaseTimeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Out of time: standbys take over when the lease expires.
        }

        return false;
    }

    private void SetLeader(bool isLeader)
    {
        _isLeader = isLeader;
        _metrics?.Leader($"{_options.LeaseNamespace}/{_options.LeaseName}", isLeader);
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
