using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VirtualKeys.Model;
using VirtualKeys.Operator.Api;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;

namespace VirtualKeys.Operator.Orphans;

/// <summary>
/// Revokes the registry keys whose VirtualKey is gone without its finalizer having run: stripped
/// by hand (as people do to unstick a terminating namespace) or by a tool. Nothing else would
/// ever tombstone such a key, and its tokens would keep resolving in every sidecar. Runs only on
/// the leader (the controller host starts it like a controller, after the caches synced): once
/// when leading starts, then every <see cref="OrphanedKeySweeperOptions.Interval"/>.
/// </summary>
/// <remarks>
/// A live registry key is revoked only when its resource is missing from the cache and a read from
/// the API server confirms it: no object of that name, or one with another uid (the name was
/// deleted and created again). A cache that lags behind, or an object the informer could not read,
/// never revokes a key, and neither does a failed read. Keys of namespaces this operator does not
/// watch are left alone: they may be another operator's in a shared registry.
/// </remarks>
public sealed partial class OrphanedKeySweeper(
    IResourceCache<VirtualKey> keys,
    VirtualKeyRegistry registry,
    VirtualKeyApi api,
    OperatorMetrics metrics,
    IExternalCallObserver observer,
    IOptions<OrphanedKeySweeperOptions> options,
    TimeProvider timeProvider,
    ILogger<OrphanedKeySweeper> logger) : IController
{
    private readonly CancellationTokenSource _shutDown = new();

    public string Name => "orphaned-key-sweeper";

    public async Task RunAsync(CancellationToken stopAccepting, CancellationToken abortInFlight)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopAccepting, _shutDown.Token);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await SweepOnceAsync(abortInFlight);
            }
            catch (OperationCanceledException) when (abortInFlight.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                Log.SweepFailed(logger, e.Message);
            }

            try
            {
                await Task.Delay(options.Value.Interval, timeProvider, stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void ShutDown() => _shutDown.Cancel();

    /// <summary>One sweep; returns how many keys it revoked.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        observer.BeforeCall("registry:list");
        var live = await registry.ListLiveKeysAsync(includeCredentials: false, cancellationToken);
        var revoked = 0;
        foreach (var record in live.Keys)
        {
            var identity = record.Identity;
            if (!Watched(identity.Namespace) || SameUid(keys.Get(identity.Namespace, identity.Name), identity))
            {
                continue;
            }

            var current = await api.GetAsync(identity.Namespace, identity.Name, cancellationToken);
            if (SameUid(current, identity))
            {
                continue;
            }

            observer.BeforeCall("registry:tombstone");
            if (await registry.TombstoneAsync(identity, cancellationToken))
            {
                metrics.RegistryWrite("tombstone_orphaned");
                Log.Revoked(logger, identity.Namespace, identity.Name, identity.Uid, record.KeyId);
                revoked++;
            }
        }

        return revoked;
    }

    private bool Watched(string @namespace) =>
        options.Value.WatchNamespaces.Count == 0 || options.Value.WatchNamespaces.Contains(@namespace, StringComparer.Ordinal);

    private static bool SameUid(VirtualKey? key, VirtualKeyIdentity identity) =>
        key is not null && string.Equals(key.Metadata.Uid, identity.Uid, StringComparison.Ordinal);

    private static partial class Log
    {
        [LoggerMessage(4301, LogLevel.Warning, "VirtualKey {Namespace}/{Name} (uid {Uid}) no longer exists but its registry key {KeyId} was still live (was its finalizer removed?); the key is revoked and its tokens refused from now on")]
        public static partial void Revoked(ILogger logger, string @namespace, string name, string uid, string keyId);

        [LoggerMessage(4302, LogLevel.Warning, "Orphaned key sweep failed: {Problem}")]
        public static partial void SweepFailed(ILogger logger, string problem);
    }
}
