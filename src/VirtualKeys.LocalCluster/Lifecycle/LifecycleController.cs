using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Hosting;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster.Lifecycle;

/// <summary>
/// The controllers a real control plane runs beside the API server, reduced to what the API
/// semantics need: the garbage collector (ownerReferences with background, foreground and
/// orphan propagation), the namespace controller (a deleted namespace empties, then goes),
/// and the CRD controllers (registration at once; instances cleaned up before a CRD goes).
/// Work is queued from commits and done on one background loop, as asynchronously as on a
/// real cluster, so clients must wait for it the same way.
/// </summary>
internal sealed class LifecycleController : IAsyncDisposable
{
    private const string CrdStorageKey = "apiextensions.k8s.io/customresourcedefinitions";
    private const string NamespaceStorageKey = "/namespaces";
    private readonly ResourceOperations _operations;
    private readonly ILogger _logger;
    private readonly Channel<WorkItem> _queue = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public LifecycleController(ResourceOperations operations, ILogger logger)
    {
        _operations = operations;
        _logger = logger;
        operations.Store.Committed += OnCommitted;
        _loop = Task.Run(RunAsync);
    }

    private ObjectStore Store => _operations.Store;

    public async ValueTask DisposeAsync()
    {
        Store.Committed -= OnCommitted;
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    /// <summary>Runs on the writer's thread right after a commit: registry changes are visible before the write's response.</summary>
    private void OnCommitted(WatchEvent change)
    {
        var stored = change.Object;
        if (stored.StorageKey == CrdStorageKey)
        {
            SyncCrd(stored.Name);
            if (stored.IsDeleting)
            {
                Enqueue(WorkKind.CrdCleanup, stored.Name);
            }
        }

        switch (change.Type)
        {
            case WatchEventType.Deleted:
                Enqueue(WorkKind.OwnerGone, stored.Uid);
                foreach (var owner in stored.Owners)
                {
                    Enqueue(WorkKind.Foreground, owner.Uid);
                }

                if (stored.Namespace.Length > 0)
                {
                    Enqueue(WorkKind.Namespace, stored.Namespace);
                }

                if (_operations.Registry.ForStorage(stored.StorageKey)?.CrdName is { } crdName)
                {
                    Enqueue(WorkKind.CrdCleanup, crdName);
                }

                break;
            case WatchEventType.Added when stored.Owners.Count > 0:
                Enqueue(WorkKind.Dangling, stored.Uid);
                break;
            case WatchEventType.Modified when stored.IsDeleting:
                if (stored.StorageKey == NamespaceStorageKey)
                {
                    Enqueue(WorkKind.Namespace, stored.Name);
                }

                if (stored.Finalizers.Contains("foregroundDeletion"))
                {
                    Enqueue(WorkKind.Foreground, stored.Uid);
                }

                if (stored.Finalizers.Contains("orphan"))
                {
                    Enqueue(WorkKind.Orphan, stored.Uid);
                }

                break;
        }
    }

    private void SyncCrd(string name)
    {
        var current = Store.Get(CrdStorageKey, "", name);
        if (current is null)
        {
            _operations.Registry.UnregisterCrd(name);
            return;
        }

        try
        {
            _operations.Registry.RegisterCrd(name, CrdRegistration.ToResourceTypes(current.ToNode()));
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or JsonException)
        {
            Log.CrdNotServed(_logger, name, e);
        }
    }

    private void Enqueue(WorkKind kind, string subject)
    {
        if (subject.Length > 0)
        {
            _queue.Writer.TryWrite(new WorkItem(kind, subject, 0));
        }
    }

    private async Task RunAsync()
    {
        await foreach (var item in _queue.Reader.ReadAllAsync(_stopping.Token))
        {
            try
            {
                Process(item);
            }
            catch (ApiException e) when (e.Code is 404 or 409)
            {
                if (item.Attempt < 20)
                {
                    _ = RequeueLaterAsync(item with { Attempt = item.Attempt + 1 });
                }
            }
            catch (Exception e) when (e is ApiException or InvalidOperationException)
            {
                Log.LifecycleFailed(_logger, item.Kind.ToString(), item.Subject, e);
            }
        }
    }

    private async Task RequeueLaterAsync(WorkItem item)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20 * item.Attempt), _stopping.Token);
            _queue.Writer.TryWrite(item);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Process(WorkItem item)
    {
        switch (item.Kind)
        {
            case WorkKind.OwnerGone:
                CollectDependents(item.Subject);
                break;
            case WorkKind.Dangling:
                CollectIfOrphaned(item.Subject);
                break;
            case WorkKind.Foreground:
                ProcessForeground(item.Subject);
                break;
            case WorkKind.Orphan:
                ProcessOrphan(item.Subject);
                break;
            case WorkKind.Namespace:
                ProcessNamespace(item.Subject);
                break;
            case WorkKind.CrdCleanup:
                ProcessCrd(item.Subject);
                break;
        }
    }

    private void CollectDependents(string ownerUid)
    {
        if (Store.GetByUid(ownerUid) is not null)
        {
            return;
        }

        foreach (var dependent in Store.Dependents(ownerUid))
        {
            CollectIfOrphaned(dependent.Uid);
        }
    }

    /// <summary>Deletes an object none of whose owners exist; drops references to missing owners otherwise.</summary>
    private void CollectIfOrphaned(string uid)
    {
        var dependent = Store.GetByUid(uid);
        if (dependent is null || dependent.Owners.Count == 0)
        {
            return;
        }

        var missing = dependent.Owners.Where(o => Store.GetByUid(o.Uid) is null).Select(o => o.Uid).ToHashSet(StringComparer.Ordinal);
        if (missing.Count == 0)
        {
            return;
        }

        if (missing.Count == dependent.Owners.Count)
        {
            if (!dependent.IsDeleting)
            {
                DeleteObject(dependent, "Background");
            }

            return;
        }

        _operations.TryMutate(dependent, node => RemoveOwnerReferences(node, missing));
    }

    private void ProcessForeground(string ownerUid)
    {
        var owner = Store.GetByUid(ownerUid);
        if (owner is null || !owner.IsDeleting || !owner.Finalizers.Contains("foregroundDeletion"))
        {
            return;
        }

        var dependents = Store.Dependents(ownerUid);
        foreach (var dependent in dependents.Where(d => !d.IsDeleting))
        {
            DeleteObject(dependent, "Foreground");
        }

        var blocking = Store.Dependents(ownerUid).Where(d => d.Owners.Any(o => o.Uid == ownerUid && o.BlockOwnerDeletion)).ToList();
        if (blocking.Count == 0)
        {
            _operations.TryMutate(owner, node => RemoveFinalizer(node, "foregroundDeletion"));
        }
    }

    private void ProcessOrphan(string ownerUid)
    {
        var owner = Store.GetByUid(ownerUid);
        if (owner is null || !owner.IsDeleting || !owner.Finalizers.Contains("orphan"))
        {
            return;
        }

        var gone = new HashSet<string>(StringComparer.Ordinal) { ownerUid };
        foreach (var dependent in Store.Dependents(ownerUid))
        {
            _operations.TryMutate(dependent, node => RemoveOwnerReferences(node, gone));
        }

        _operations.TryMutate(owner, node => RemoveFinalizer(node, "orphan"));
    }

    private void ProcessNamespace(string name)
    {
        var ns = Store.Get(NamespaceStorageKey, "", name);
        if (ns is null || !ns.IsDeleting)
        {
            return;
        }

        var contents = Store.InNamespace(name);
        foreach (var stored in contents.Where(o => !o.IsDeleting))
        {
            DeleteObject(stored, "Background");
        }

        if (Store.InNamespace(name).Count == 0)
        {
            _operations.Remove(ns);
        }
    }

    private void ProcessCrd(string name)
    {
        var crd = Store.Get(CrdStorageKey, "", name);
        if (crd is null || !crd.IsDeleting)
        {
            return;
        }

        var node = crd.ToNode();
        var storageKey = $"{node["spec"]?["group"]}/{node["spec"]?["names"]?["plural"]}";
        var (instances, _) = Store.List(storageKey, null);
        foreach (var instance in instances.Where(i => !i.IsDeleting))
        {
            DeleteObject(instance, "Background");
        }

        if (Store.List(storageKey, null).Items.Count == 0)
        {
            _operations.TryMutate(crd, n => RemoveFinalizer(n, ResourceOperations.CrdCleanupFinalizer));
        }
    }

    private void DeleteObject(StoredObject stored, string policy)
    {
        var type = _operations.Registry.ForStorage(stored.StorageKey);
        if (type is null)
        {
            // The kind is no longer served (its CRD went first): nothing can hold it up.
            _operations.Remove(stored);
            return;
        }

        try
        {
            _operations.Delete(type, stored.Namespace, stored.Name, new DeleteOptions(policy, PreconditionUid: stored.Uid));
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
        }
    }

    private static bool RemoveOwnerReferences(JsonObject node, HashSet<string> uids)
    {
        if (node["metadata"]?["ownerReferences"] is not JsonArray owners)
        {
            return false;
        }

        var kept = owners.Where(o => !uids.Contains((string?)o?["uid"] ?? "")).Select(o => o!.DeepClone()).ToArray();
        if (kept.Length == owners.Count)
        {
            return false;
        }

        var metadata = node["metadata"]!.AsObject();
        if (kept.Length == 0)
        {
            metadata.Remove("ownerReferences");
        }
        else
        {
            metadata["ownerReferences"] = new JsonArray(kept);
        }

        return true;
    }

    private static bool RemoveFinalizer(JsonObject node, string finalizer)
    {
        if (node["metadata"]?["finalizers"] is not JsonArray finalizers)
        {
            return false;
        }

        var kept = finalizers.Where(f => f?.ToString() != finalizer).Select(f => f!.DeepClone()).ToArray();
        if (kept.Length == finalizers.Count)
        {
            return false;
        }

        var metadata = node["metadata"]!.AsObject();
        if (kept.Length == 0)
        {
            metadata.Remove("finalizers");
        }
        else
        {
            metadata["finalizers"] = new JsonArray(kept);
        }

        return true;
    }

    private enum WorkKind
    {
        OwnerGone,
        Dangling,
        Foreground,
        Orphan,
        Namespace,
        CrdCleanup,
    }

    private sealed record WorkItem(WorkKind Kind, string Subject, int Attempt);
}
