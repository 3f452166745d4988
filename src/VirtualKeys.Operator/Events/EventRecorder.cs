using System.Collections.Concurrent;
using System.Globalization;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using VirtualKeys.Model;
using VirtualKeys.Operator.Observability;

namespace VirtualKeys.Operator.Events;

/// <summary>
/// Writes core/v1 Events about VirtualKeys. A repeat of the same event about the same object
/// within <see cref="SeriesWindow"/> patches the existing Event's count instead of creating another,
/// as client-go's recorder does. Failing to record never fails a reconcile.
/// </summary>
public sealed partial class EventRecorder(IKubernetes client, TimeProvider timeProvider, IExternalCallObserver observer, ILogger<EventRecorder> logger, string instance)
{
    public const string Component = "virtual-key-operator";

    public static readonly TimeSpan SeriesWindow = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<(string Uid, string Reason, string Message), Series> _series = new();

    public const string Normal = "Normal";

    public const string Warning = "Warning";

    public async Task RecordAsync(VirtualKey key, string type, string reason, string message, CancellationToken cancellationToken)
    {
        var ns = key.Metadata.NamespaceProperty;
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var id = (key.Metadata.Uid ?? key.Metadata.Name, reason, message);
        try
        {
            if (_series.TryGetValue(id, out var series) && now - series.LastSeen < SeriesWindow)
            {
                var count = series.Count + 1;
                var patch = new { count, lastTimestamp = now };
                observer.BeforeCall("api:events:patch");
                await client.CoreV1.PatchNamespacedEventAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), series.Name, ns, cancellationToken: cancellationToken);
                _series[id] = series with { Count = count, LastSeen = now };
                return;
            }

            var name = EventName(key.Metadata.Name, now);
            var ev = new Corev1Event
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                InvolvedObject = new V1ObjectReference
                {
                    ApiVersion = WellKnown.ApiVersion,
                    Kind = WellKnown.Kind,
                    Name = key.Metadata.Name,
                    NamespaceProperty = ns,
                    Uid = key.Metadata.Uid,
                    ResourceVersion = key.Metadata.ResourceVersion,
                },
                Type = type,
                Reason = reason,
                Message = message,
                Count = 1,
                FirstTimestamp = now,
                LastTimestamp = now,
                Source = new V1EventSource { Component = Component },
                ReportingComponent = Component,
                ReportingInstance = instance,
            };
            observer.BeforeCall("api:events:create");
            await client.CoreV1.CreateNamespacedEventAsync(ev, ns, cancellationToken: cancellationToken);
            _series[id] = new Series(name, 1, now);
            if (_series.Count > 10_000)
            {
                foreach (var old in _series.Where(s => now - s.Value.LastSeen >= SeriesWindow).Select(s => s.Key).ToList())
                {
                    _series.TryRemove(old, out _);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _series.TryRemove(id, out _);
            Log.EventFailed(logger, e, ns, key.Metadata.Name, reason);
        }
    }

    /// <summary>
    /// The object's name and the time, as client-go names Events, within the 253 characters of a
    /// name: a VirtualKey's own name may use all of them, and an Event named past them is refused,
    /// so a long name is cut (and never left ending in '.' or '-', which a name may not).
    /// </summary>
    internal static string EventName(string objectName, DateTime now)
    {
        var suffix = string.Create(CultureInfo.InvariantCulture, $".{now.Ticks:x}");
        var room = MaxNameLength - suffix.Length;
        var prefix = objectName.Length <= room ? objectName : objectName[..room].TrimEnd('.', '-');
        return prefix + suffix;
    }

    private const int MaxNameLength = 253;

    private sealed record Series(string Name, int Count, DateTime LastSeen);

    private static partial class Log
    {
        [LoggerMessage(4101, LogLevel.Warning, "Could not record event {Reason} for VirtualKey {Namespace}/{Name}")]
        public static partial void EventFailed(ILogger logger, Exception exception, string @namespace, string name, string reason);
    }
}
