using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>Ready-made <see cref="IListWatcher{T}"/>s for the kinds the operator watches.</summary>
public static class ListWatchers
{
    public static IListWatcher<V1Secret> Secrets(IKubernetes client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new DelegatingListWatcher<V1Secret>(
            "secrets",
            async (ns, ct) =>
            {
                var list = ns is null
                    ? await client.CoreV1.ListSecretForAllNamespacesAsync(cancellationToken: ct)
                    : await client.CoreV1.ListNamespacedSecretAsync(ns, cancellationToken: ct);
                return new ResourceList<V1Secret>([.. list.Items], list.Metadata.ResourceVersion);
            },
            w => w.Namespace is null
                ? client.CoreV1.WatchListSecretForAllNamespacesAsync(
                    allowWatchBookmarks: true,
                    resourceVersion: w.ResourceVersion,
                    timeoutSeconds: w.TimeoutSeconds,
                    onError: w.OnError,
                    cancellationToken: w.CancellationToken)
                : client.CoreV1.WatchListNamespacedSecretAsync(
                    w.Namespace,
                    allowWatchBookmarks: true,
                    resourceVersion: w.ResourceVersion,
                    timeoutSeconds: w.TimeoutSeconds,
                    onError: w.OnError,
                    cancellationToken: w.CancellationToken));
    }

    public static IListWatcher<V1ConfigMap> ConfigMaps(IKubernetes client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new DelegatingListWatcher<V1ConfigMap>(
            "configmaps",
            async (ns, ct) =>
            {
                var list = ns is null
                    ? await client.CoreV1.ListConfigMapForAllNamespacesAsync(cancellationToken: ct)
                    : await client.CoreV1.ListNamespacedConfigMapAsync(ns, cancellationToken: ct);
                return new ResourceList<V1ConfigMap>([.. list.Items], list.Metadata.ResourceVersion);
            },
            w => w.Namespace is null
                ? client.CoreV1.WatchListConfigMapForAllNamespacesAsync(
                    allowWatchBookmarks: true,
                    resourceVersion: w.ResourceVersion,
                    timeoutSeconds: w.TimeoutSeconds,
                    onError: w.OnError,
                    cancellationToken: w.CancellationToken)
                : client.CoreV1.WatchListNamespacedConfigMapAsync(
                    w.Namespace,
                    allowWatchBookmarks: true,
                    resourceVersion: w.ResourceVersion,
                    timeoutSeconds: w.TimeoutSeconds,
                    onError: w.OnError,
                    cancellationToken: w.CancellationToken));
    }

    /// <summary>A custom resource whose group, version and plural come from its <see cref="KubernetesEntityAttribute"/>.</summary>
    public static IListWatcher<T> CustomResource<T>(IKubernetes client)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{typeof(T).Name} has no [KubernetesEntity] attribute: pass group, version and plural.", nameof(T));
        if (string.IsNullOrEmpty(entity.Group))
        {
            throw new ArgumentException($"{typeof(T).Name} is in the core group: use a typed list watcher such as ListWatchers.Secrets.", nameof(T));
        }

        return CustomResource<T>(client, entity.Group, entity.ApiVersion, entity.PluralName);
    }

    public static IListWatcher<T> CustomResource<T>(IKubernetes client, string group, string version, string plural)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        ArgumentException.ThrowIfNullOrWhiteSpace(plural);
        return new DelegatingListWatcher<T>(
            $"{plural}.{group}",
            async (ns, ct) =>
            {
                using var response = ns is null
                    ? await client.CustomObjects.ListCustomObjectForAllNamespacesWithHttpMessagesAsync<KubernetesList<T>>(
                        group, version, plural, cancellationToken: ct)
                    : await client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<KubernetesList<T>>(
                        group, version, ns, plural, cancellationToken: ct);
                var list = response.Body;
                return new ResourceList<T>([.. list.Items ?? []], list.Metadata?.ResourceVersion ?? string.Empty);
            },
            w => Typed<T>(w.Namespace is null
                ? client.CustomObjects.WatchListCustomObjectForAllNamespacesAsync(
                    group,
                    version,
                    plural,
                    allowWatchBookmarks: true,
                    resourceVersion: w.ResourceVersion,
                    timeoutSeconds: w.TimeoutSeconds,
                    onError: w.OnError,
                    cancellationToken: w.CancellationToken)
                : client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                    group,
                    version,
                    w.Namespace,
                    plural,
                    allowWatchBookmarks: true,
                    resourceVersion: w.ResourceVersion,
                    timeoutSeconds: w.TimeoutSeconds,
                    onError: w.OnError,
                    cancellationToken: w.CancellationToken),
                w.OnError,
                w.CancellationToken));
    }

    // CustomObjects watches yield untyped JSON; each object is read into T here.
    private static async IAsyncEnumerable<(WatchEventType, T)> Typed<T>(
        IAsyncEnumerable<(WatchEventType, object)> events,
        Action<Exception> onError,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (type, raw) in events.WithCancellation(cancellationToken))
        {
            T? typed;
            try
            {
                typed = raw switch
                {
                    JsonElement element => KubernetesJson.Deserialize<T>(element),
                    T already => already,
                    _ => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(raw)),
                };
            }
            catch (JsonException e)
            {
                onError(e);
                yield break;
            }

            if (typed is not null)
            {
                yield return (type, typed);
            }
        }
    }
}
