using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Metrics;

namespace VirtualKeys.Operator.Runtime.Hosting;

/// <summary>
/// Configures a controller registered with
/// <see cref="ControllerRuntimeServiceCollectionExtensions.AddController{T, TReconciler}"/>.
/// Secondary watches name only a kind: its informer comes from the container
/// (<see cref="ControllerRuntimeServiceCollectionExtensions.AddInformer{T}"/>).
/// </summary>
public sealed class ControllerBuilder<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly List<Action<IServiceProvider, Controller<T>>> _watches = [];

    public ControllerOptions Options { get; } = new();

    public ControllerBuilder<T> WithName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Options.Name = name;
        return this;
    }

    public ControllerBuilder<T> WithWorkers(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        Options.Workers = workers;
        return this;
    }

    public ControllerBuilder<T> WithRetryBackoff(TimeSpan baseDelay, TimeSpan maxDelay)
    {
        Options.RetryBaseDelay = baseDelay;
        Options.RetryMaxDelay = maxDelay;
        return this;
    }

    /// <summary>Reconciles the primary objects that <paramref name="map"/> names whenever a <typeparamref name="TOther"/> changes.</summary>
    public ControllerBuilder<T> Watches<TOther>(Func<TOther, IEnumerable<ReconcileRequest>> map)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(map);
        _watches.Add((sp, controller) => controller.Watches(Informer<TOther>(sp), map));
        return this;
    }

    /// <summary>
    /// As <see cref="Watches{TOther}(Func{TOther, IEnumerable{ReconcileRequest}})"/>, with the
    /// primary cache at hand: e.g. the VirtualKeys in the Secret's namespace that reference it.
    /// </summary>
    public ControllerBuilder<T> Watches<TOther>(Func<TOther, IResourceCache<T>, IEnumerable<ReconcileRequest>> map)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(map);
        _watches.Add((sp, controller) => controller.Watches(Informer<TOther>(sp), other => map(other, controller.Cache)));
        return this;
    }

    internal Controller<T> Build(IServiceProvider services, IReconciler<T> reconciler)
    {
        var controller = new Controller<T>(
            Informer<T>(services),
            reconciler,
            Options,
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>(),
            services.GetService<ControllerMetrics>());
        foreach (var watch in _watches)
        {
            watch(services, controller);
        }

        return controller;
    }

    private static IResourceInformer<TKind> Informer<TKind>(IServiceProvider services)
        where TKind : class, IKubernetesObject<V1ObjectMeta> =>
        services.GetService<IResourceInformer<TKind>>()
        ?? throw new InvalidOperationException(
            $"No informer for {typeof(TKind).Name}: register one with services.AddInformer<{typeof(TKind).Name}>(...) before adding a controller that watches it.");
}
