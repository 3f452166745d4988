using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Operator.Runtime.Controllers;

namespace VirtualKeys.Operator.Runtime.Hosting;

/// <summary>Resolves the reconciler in a fresh scope per reconcile, so it may depend on scoped services (a database session, say).</summary>
internal sealed class ScopedReconciler<T, TReconciler>(IServiceScopeFactory scopes) : IReconciler<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
    where TReconciler : class, IReconciler<T>
{
    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TReconciler>().ReconcileAsync(request, cancellationToken);
    }
}
