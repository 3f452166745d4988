using Microsoft.Extensions.Logging;

namespace VirtualKeys.Operator.Runtime.Informers;

internal static partial class InformerLog
{
    [LoggerMessage(1000, LogLevel.Debug, "Listed {Count} {Kind} in {Namespace} at resource version {ResourceVersion}")]
    public static partial void Listed(ILogger logger, string kind, string @namespace, int count, string resourceVersion);

    [LoggerMessage(1001, LogLevel.Information, "The {Kind} cache has synced with {Count} objects")]
    public static partial void Synced(ILogger logger, string kind, int count);

    [LoggerMessage(1002, LogLevel.Debug, "The {Kind} watch in {Namespace} closed at resource version {ResourceVersion}; resuming")]
    public static partial void WatchClosed(ILogger logger, string kind, string @namespace, string resourceVersion);

    [LoggerMessage(1003, LogLevel.Warning, "The {Kind} watch in {Namespace} closed at once at resource version {ResourceVersion}; resuming in {Delay}")]
    public static partial void WatchClosedEarly(ILogger logger, string kind, string @namespace, string resourceVersion, TimeSpan delay);

    [LoggerMessage(1004, LogLevel.Information, "Resource version {ResourceVersion} of {Kind} in {Namespace} has expired (410 Gone); relisting")]
    public static partial void Expired(ILogger logger, string kind, string @namespace, string? resourceVersion);

    [LoggerMessage(1005, LogLevel.Warning, "Listing {Kind} in {Namespace} failed ({Error}); retrying in {Delay}")]
    public static partial void ListFailed(ILogger logger, Exception exception, string kind, string @namespace, string error, TimeSpan delay);

    [LoggerMessage(1006, LogLevel.Warning, "Watching {Kind} in {Namespace} from resource version {ResourceVersion} failed ({Error}); retrying in {Delay}")]
    public static partial void WatchFailed(ILogger logger, Exception exception, string kind, string @namespace, string resourceVersion, string error, TimeSpan delay);

    [LoggerMessage(1007, LogLevel.Information, "{Kind} {Namespace}/{Name} is gone from the relist; delivering its missed delete")]
    public static partial void DeleteSynthesized(ILogger logger, string kind, string @namespace, string name);

    [LoggerMessage(1008, LogLevel.Debug, "Resynced {Count} {Kind}")]
    public static partial void Resynced(ILogger logger, string kind, int count);

    [LoggerMessage(1009, LogLevel.Error, "A {Kind} event handler failed for {Namespace}/{Name}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string kind, string @namespace, string name);

    [LoggerMessage(1010, LogLevel.Error, "{Kind} {Namespace}/{Name} cannot be read and is skipped until it changes; fix the object (or tighten the CRD schema)")]
    public static partial void Unreadable(ILogger logger, Exception exception, string kind, string @namespace, string name);
}
