using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VirtualKeys.Model;
using VirtualKeys.Operator.Api;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;

namespace VirtualKeys.Operator.Orphans;

/// <summary>
/// Revokes the registry keys whose VirtualKey is gone without its finalizer having run: stripped
/// by hand (as people do to unstick a terminating namespace) or by a tool. Nothing else would
/// ever tombstone such a key, and its tokens would keep resolving in every sidecar. Runs only on
/// the leader (the controller host starts it like a controller, after the caches synced): a full
/// sweep when leading starts and every <see cref="OrphanedKeySweeperOptions.Interval"/>, and a check
/// of each VirtualKey the informer sees deleted, at once. A sweep that fails (the registry or the
/// API server away) is run again, and the deletes not checked yet are checked again, after
/// <see cref="RetryDelay"/>, doubling per round up to the interval. A full sweep revokes at most
/// <see cref="OrphanedKeySweeperOptions.MaxRevocationsPerSweep"/> keys (it withholds them all when it
/// finds more), and has the reconciler look again at keys of this cluster whose registry key is no
/// longer live, so their status says Revoked.
/// </summary>
/// <remarks>
/// A live registry key is revoked only when its resource is missing from the cache and a read from
/// the API server confirms it: no object of that name, or one with another uid (the name was
/// deleted and created again). A cache that lags behind, or an object the informer could not read,
/// never revokes a key, and neither does a failed read. Keys of namespaces this operator does not
/// watch are left alone: they may be another operator's in a shared registry. A key deleted the
/// normal way was tombstoned by the reconciler before its finalizer went, so its check finds
/// nothing to do.
/// </remarks>
public sealed partial class OrphanedKeySweeper(
    IResourceCache<VirtualKey> keys,
    VirtualKeyRegistry registry,
    VirtualKeyApi api,
    RegistryWriteCache registryWrites,
    Controller<VirtualKey> controller,
    OperatorMetrics metrics,
    IExternalCallObserver observer,
    IOptions<OrphanedKeySweeperOptions> options,
    TimeProvider timeProvider,
    ILogger<OrphanedKeySweeper> logger) : IController, IResourceEventHandler<VirtualKey>
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Deletes kept for checking at most; beyond, the full sweeps cover them.</summary>
    private const int MaxPendingDeletes = 10_000;

    private readonly CancellationTokenSource _shutDown = new();

    // The deletes the informer saw, by uid, each kept until a check of it gets an answer: one seen
    // while the registry is away, or while another replica leads, is checked when it can be. They
    // are checked one by one, outside the full sweep's limit: the informer saw that very object go.
    private readonly ConcurrentDictionary<string, VirtualKeyIdentity> _deleted = new(StringComparer.Ordinal);

    // Wakes the loop when a delete is seen.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public string Name => "orphaned-key-sweeper";

    public async Task RunAsync(CancellationToken stopAccepting, CancellationToken abortInFlight)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopAccepting, _shutDown.Token);
        var nextSweep = timeProvider.GetUtcNow();
        var nextRetry = DateTimeOffset.MaxValue;
        var failures = 0;
        Task<bool>? waiting = null;
        while (!stop.IsCancellationRequested)
        {
            var failed = false;
            try
            {
                if (timeProvider.GetUtcNow() >= nextSweep)
                {
                    nextSweep = timeProvider.GetUtcNow() + options.Value.Interval;
                    await SweepOnceAsync(abortInFlight);
                }
            }
            catch (Exception e)
            {
                if (stop.IsCancellationRequested || abortInFlight.IsCancellationRequested)
                {
                    // Stopping: a round cut short or failing now is no failure of the host's.
                    return;
                }

                Log.SweepFailed(logger, e.Message);
                nextSweep = DateTimeOffset.MinValue;
                failed = true;
            }

            try
            {
                failed |= !await CheckPendingDeletesAsync(abortInFlight);
            }
            catch (OperationCanceledException) when (abortInFlight.IsCancellationRequested)
            {
                return;
            }

            // One backoff for the round, however many checks failed in it: the next round retries
            // the deletes not checked yet, and a failed sweep as well.
            failures = failed ? failures + 1 : 0;
            nextRetry = failed ? timeProvider.GetUtcNow() + Min(RetryDelay * Math.Pow(2, Math.Min(failures - 1, 16)), options.Value.Interval) : DateTimeOffset.MaxValue;
            if (nextSweep == DateTimeOffset.MinValue)
            {
                nextSweep = nextRetry;
            }

            try
            {
                waiting ??= _wake.Reader.WaitToReadAsync(stop.Token).AsTask();
                var due = Min(nextSweep, nextRetry) - timeProvider.GetUtcNow();
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                await Task.WhenAny(waiting, Task.Delay(due > TimeSpan.Zero ? due : TimeSpan.Zero, timeProvider, timer.Token));
                await timer.CancelAsync();
                if (waiting.IsCompleted)
                {
                    await waiting;
                    waiting = null;
                    _wake.Reader.TryRead(out _);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void ShutDown() => _shutDown.Cancel();

    public void OnAdded(VirtualKey obj)
    {
    }

    public void OnUpdated(VirtualKey oldObj, VirtualKey newObj)
    {
    }

    public void OnDeleted(VirtualKey obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        if (!string.IsNullOrEmpty(obj.Metadata?.Uid) && _deleted.Count < MaxPendingDeletes)
        {
            _deleted[obj.Metadata.Uid] = RegistryMapping.Identity(obj);
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>One sweep; returns how many keys it revoked.</summary>
    /// <exception cref="AggregateException">Some keys could not be checked; the others were.</exception>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        observer.BeforeCall("registry:list");
        var live = await registry.ListLiveKeysAsync(includeCredentials: false, cancellationToken);
        NoticeRevoked(live);
        var orphaned = new List<VirtualKeyRecord>();
        var failures = new List<Exception>();
        foreach (var record in live.Keys)
        {
            try
            {
                if (await IsGoneAsync(record.Identity, cancellationToken))
                {
                    orphaned.Add(record);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One key that cannot be read (an object its type cannot hold, an API error) must not
                // keep every key after it from being checked.
                failures.Add(e);
            }
        }

        var revoked = 0;
        metrics.OrphanedKeysWithheld(orphaned.Count > options.Value.MaxRevocationsPerSweep ? orphaned.Count : 0);
        if (orphaned.Count > options.Value.MaxRevocationsPerSweep)
        {
            Log.Withheld(logger, orphaned.Count, options.Value.MaxRevocationsPerSweep, string.Join(", ", orphaned.Take(5).Select(r => r.Identity.ToString())));
        }
        else
        {
            foreach (var record in orphaned)
            {
                if (await RevokeAsync(record, cancellationToken))
                {
                    revoked++;
                }
            }
        }

        return failures.Count == 0
            ? revoked
            : throw new AggregateException($"{failures.Count} of {live.Keys.Count} registry keys could not be checked: {failures[0].Message}", failures);
    }

    /// <summary>Checks every delete not checked yet; false when some could not be (they are kept).</summary>
    private async Task<bool> CheckPendingDeletesAsync(CancellationToken cancellationToken)
    {
        var failed = 0;
        string? problem = null;
        foreach (var (uid, deleted) in _deleted)
        {
            try
            {
                await CheckDeletedAsync(deleted, cancellationToken);
                _deleted.TryRemove(uid, out _);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failed++;
                problem ??= e.Message;
            }
        }

        if (failed > 0)
        {
            Log.DeletesNotChecked(logger, failed, problem!);
        }

        return failed == 0;
    }

    /// <summary>A VirtualKey the informer saw deleted: revoked if it went without its finalizer.</summary>
    private async Task CheckDeletedAsync(VirtualKeyIdentity deleted, CancellationToken cancellationToken)
    {
        if (!Watched(deleted.Namespace))
        {
            return;
        }

        observer.BeforeCall("registry:get");
        var record = await registry.GetAsync(deleted.Namespace, deleted.Name, includeCredentials: false, cancellationToken);
        if (record is { State: not VirtualKeyState.Tombstoned } && string.Equals(record.Identity.Uid, deleted.Uid, StringComparison.Ordinal))
        {
            await RevokeIfGoneAsync(record, cancellationToken);
        }
    }

    /// <summary>
    /// A VirtualKey this cluster has, registered before, whose registry key is no longer live
    /// (tombstoned by another cluster's operator sharing the registry, or a registry restored from
    /// before it existed): what the reconciler remembers writing is forgotten and the key reconciled,
    /// so its status says so instead of Ready.
    /// </summary>
    private void NoticeRevoked(RegistryKeySet live)
    {
        var liveUids = live.Keys.Select(k => k.Identity.Uid).ToHashSet(StringComparer.Ordinal);
        foreach (var key in keys.List())
        {
            if (key.Metadata.DeletionTimestamp is null
                && !string.IsNullOrEmpty(key.Status?.KeyId)
                && Watched(key.Metadata.NamespaceProperty)
                && !liveUids.Contains(key.Metadata.Uid)
                && registryWrites.Forget(key.Metadata.Uid))
            {
                controller.Queue.Add(ReconcileRequest.For(key));
            }
        }
    }

    private async Task<bool> RevokeIfGoneAsync(VirtualKeyRecord record, CancellationToken cancellationToken) =>
        await IsGoneAsync(record.Identity, cancellationToken) && await RevokeAsync(record, cancellationToken);

    /// <summary>In a watched namespace, missing from the cache, and confirmed gone by the API server.</summary>
    private async Task<bool> IsGoneAsync(VirtualKeyIdentity identity, CancellationToken cancellationToken)
    {
        if (!Watched(identity.Namespace) || SameUid(keys.Get(identity.Namespace, identity.Name), identity))
        {
            return false;
        }

        var current = await api.GetAsync(identity.Namespace, identity.Name, cancellationToken);
        return !SameUid(current, identity);
    }

    private async Task<bool> RevokeAsync(VirtualKeyRecord record, CancellationToken cancellationToken)
    {
        var identity = record.Identity;
        observer.BeforeCall("registry:tombstone");
        if (!await registry.TombstoneAsync(identity, cancellationToken))
        {
            return false;
        }

        metrics.RegistryWrite("tombstone_orphaned");
        Log.Revoked(logger, identity.Namespace, identity.Name, identity.Uid, record.KeyId);
        return true;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private bool Watched(string @namespace) =>
        options.Value.WatchNamespaces.Count == 0 || options.Value.WatchNamespaces.Contains(@namespace, StringComparer.Ordinal);

    private static bool SameUid(VirtualKey? key, VirtualKeyIdentity identity) =>
        key is not null && string.Equals(key.Metadata.Uid, identity.Uid, StringComparison.Ordinal);

    private static partial class Log
    {
        [LoggerMessage(4301, LogLevel.Warning, "VirtualKey {Namespace}/{Name} (uid {Uid}) no longer exists but its registry key {KeyId} was still live (was its finalizer removed?); the key is revoked and its tokens refused from now on")]
        public static partial void Revoked(ILogger logger, string @namespace, string name, string uid, string keyId);

        [LoggerMessage(4303, LogLevel.Error, "{Count} registry keys have no VirtualKey in this cluster, more than the {Limit} one sweep revokes (Operator__OrphanSweepLimit): none is revoked. Is this operator pointed at the right cluster, and are its VirtualKeys applied? If they were deleted on purpose, raise the limit until the next sweep. The first: {Keys}")]
        public static partial void Withheld(ILogger logger, int count, int limit, string keys);

        [LoggerMessage(4304, LogLevel.Warning, "{Count} deleted VirtualKeys could not be checked for a registry key left live; retrying: {Problem}")]
        public static partial void DeletesNotChecked(ILogger logger, int count, string problem);

        [LoggerMessage(4302, LogLevel.Warning, "Orphaned key sweep failed: {Problem}")]
        public static partial void SweepFailed(ILogger logger, string problem);
    }
}
