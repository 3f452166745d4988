using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Leadership;
using VirtualKeys.Operator.Runtime.Metrics;

namespace VirtualKeys.Operator.Runtime.Hosting;

/// <summary>
/// Wires the runtime into a host. The application registers an <see cref="IKubernetes"/> client,
/// then: <c>AddControllerRuntime</c> once, <c>AddInformer</c> per kind it reads, and
/// <c>AddController</c> per reconciler.
/// </summary>
public static class ControllerRuntimeServiceCollectionExtensions
{
    public static IServiceCollection AddControllerRuntime(this IServiceCollection services, Action<ControllerHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(_ => new ControllerMetrics());
        var options = services.AddOptions<ControllerHostOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ControllerHostOptions>, ControllerHostOptionsValidator>());
        services.TryAddSingleton(sp => new LeaderElectionRunner(
            sp.GetService<IKubernetes>(),
            sp.GetRequiredService<IOptions<ControllerHostOptions>>().Value.LeaderElection,
            sp.GetRequiredService<ILogger<LeaderElectionRunner>>(),
            sp.GetService<ControllerMetrics>()));
        services.TryAddSingleton<ControllerHost>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ControllerHost>(sp => sp.GetRequiredService<ControllerHost>()));
        return services;
    }

    /// <summary>
    /// Registers the informer of <typeparamref name="T"/> as <see cref="IResourceInformer{T}"/>
    /// and <see cref="IResourceCache{T}"/> (what reconcilers read). Its namespaces default to
    /// <see cref="ControllerHostOptions.WatchNamespaces"/>.
    /// </summary>
    public static IServiceCollection AddInformer<T>(
        this IServiceCollection services,
        Func<IServiceProvider, IListWatcher<T>> listWatcher,
        Action<InformerOptions>? configure = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(listWatcher);
        services.AddSingleton(sp =>
        {
            var host = sp.GetRequiredService<IOptions<ControllerHostOptions>>().Value;
            var options = new InformerOptions { Namespaces = [.. host.WatchNamespaces] };
            configure?.Invoke(options);
            return new ResourceInformer<T>(
                listWatcher(sp),
                options,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<ResourceInformer<T>>>());
        });
        services.AddSingleton<IResourceInformer<T>>(sp => sp.GetRequiredService<ResourceInformer<T>>());
        services.AddSingleton<IResourceCache<T>>(sp => sp.GetRequiredService<ResourceInformer<T>>());
        services.AddSingleton<IInformer>(sp => sp.GetRequiredService<ResourceInformer<T>>());
        return services;
    }

    /// <summary>An informer for a custom resource described by its <see cref="KubernetesEntityAttribute"/>.</summary>
    public static IServiceCollection AddCustomResourceInformer<T>(this IServiceCollection services, Action<InformerOptions>? configure = null)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        services.AddInformer(
            sp => ListWatchers.CustomResource<T>(
                sp.GetRequiredService<IKubernetes>(),
                sp.GetService<ILoggerFactory>()?.CreateLogger(typeof(ListWatchers).FullName!)),
            configure);

    /// <param name="transform">Applied to every Secret before it is cached (see <see cref="TransformingListWatcher{T}"/>); null keeps them whole.</param>
    public static IServiceCollection AddSecretInformer(
        this IServiceCollection services,
        Action<InformerOptions>? configure = null,
        Func<V1Secret, V1Secret>? transform = null) =>
        services.AddInformer(
            sp => transform is null
                ? ListWatchers.Secrets(sp.GetRequiredService<IKubernetes>())
                : new TransformingListWatcher<V1Secret>(ListWatchers.Secrets(sp.GetRequiredService<IKubernetes>()), transform),
            configure);

    /// <summary>
    /// Registers a controller for <typeparamref name="T"/> (whose informer must be registered)
    /// running <typeparamref name="TReconciler"/>, resolved in a new scope for each reconcile.
    /// </summary>
    public static IServiceCollection AddController<T, TReconciler>(
        this IServiceCollection services,
        Action<ControllerBuilder<T>>? configure = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
        where TReconciler : class, IReconciler<T>
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new ControllerBuilder<T>();
        configure?.Invoke(builder);
        builder.Options.Validate();
        services.TryAddScoped<TReconciler>();
        services.AddSingleton(sp => builder.Build(sp, new ScopedReconciler<T, TReconciler>(sp.GetRequiredService<IServiceScopeFactory>())));
        services.AddSingleton<IController>(sp => sp.GetRequiredService<Controller<T>>());
        return services;
    }
}
