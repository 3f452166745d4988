using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Controllers;

/// <summary>
/// Drives the world toward the desired state of one object of kind <typeparamref name="T"/>.
/// Level-triggered: it is told only which object, reads that object (or its absence) from the
/// cache, and must be idempotent, since it runs again after any change, resync or restart.
/// </summary>
public interface IReconciler<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    /// <param name="cancellationToken">Cancelled when this process stops leading, or when a graceful shutdown runs out of time.</param>
    Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken);
}
