using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
    /// <param name="logger">Where objects that cannot be read into <typeparamref name="T"/> are reported (they are skipped).</param>
    public static IListWatcher<T> CustomResource<T>(IKubernetes client, ILogger? logger = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{typeof(T).Name} has no [KubernetesEntity] attribute: pass group, version and plural.", nameof(T));
        if (string.IsNullOrEmpty(entity.Group))
        {
            throw new ArgumentException($"{typeof(T).Name} is in the core group: use a typed list watcher such as ListWatchers.Secrets.", nameof(T));
        }

        return CustomResource<T>(client, entity.Group, entity.ApiVersion, entity.PluralName, logger);
    }

    /// <remarks>
    /// An object that cannot be read into <typeparamref name="T"/> (a value the API server stored but
    /// the type cannot hold, such as an integer beyond int32) is skipped and reported, so one bad
    /// object cannot stop the informer, and with it every other object of the kind.
    /// </remarks>
    public static IListWatcher<T> CustomResource<T>(IKubernetes client, string group, string version, string plural, ILogger? logger = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        ArgumentException.ThrowIfNullOrWhiteSpace(plural);
        var kind = $"{plural}.{group}";
        logger ??= NullLogger.Instance;
        return new DelegatingListWatcher<T>(
            kind,
            async (ns, ct) =>
            {
                using var response = ns is null
                    ? await client.CustomObjects.ListCustomObjectForAllNamespacesWithHttpMessagesAsync<JsonElement>(
                        group, version, plural, cancellationToken: ct)
                    : await client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<JsonElement>(
                        group, version, ns, plural, cancellationToken: ct);
                var body = response.Body;
                var items = new List<T>();
                if (body.TryGetProperty("items", out var array) && array.ValueKind == JsonValueKind.Array)
                {
                    foreach (var element in array.EnumerateArray())
                    {
                        if (TryRead<T>(element, kind, logger) is { } item)
                        {
                            items.Add(item);
                        }
                    }
                }

                var resourceVersion = body.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("resourceVersion", out var rv)
                    ? rv.GetString() ?? string.Empty
                    : string.Empty;
                return new ResourceList<T>(items, resourceVersion);
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
                kind,
                logger,
                w.CancellationToken));
    }

    // CustomObjects watches yield untyped JSON; each object is read into T here, and one that cannot
    // be read is skipped (and reported) rather than ending the watch.
    private static async IAsyncEnumerable<(WatchEventType, T)> Typed<T>(
        IAsyncEnumerable<(WatchEventType, object)> events,
        string kind,
        ILogger logger,
        [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class
    {
        await foreach (var (type, raw) in events.WithCancellation(cancellationToken))
        {
            var typed = raw switch
            {
                T already => already,
                JsonElement element => TryRead<T>(element, kind, logger),
                _ => TryRead<T>(JsonSerializer.SerializeToElement(raw), kind, logger),
            };

            if (typed is not null)
            {
                yield return (type, typed);
            }
        }
    }

    private static T? TryRead<T>(JsonElement element, string kind, ILogger logger)
        where T : class
    {
        try
        {
            return KubernetesJson.Deserialize<T>(element);
        }
        catch (JsonException e)
        {
            var metadata = element.TryGetProperty("metadata", out var m) ? m : default;
            InformerLog.Unreadable(logger, e, kind, Text(metadata, "namespace"), Text(metadata, "name"));
            return null;
        }
    }

    private static string Text(JsonElement metadata, string property) =>
        metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() ?? ""
            : "";
}
