using k8s.Models;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Tests.Runtime.Hosting;

/// <summary>A reconciler as the operator's will be: resolved per reconcile, reading the cache it is given.</summary>
internal sealed class LoggingReconciler(ReconcileLog log, IResourceCache<V1ConfigMap> cache) : IReconciler<V1ConfigMap>
{
    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        _ = cache.Get(request);
        log.Add(request);
        await log.Body(cancellationToken);
        return ReconcileResult.Done;
    }
}
