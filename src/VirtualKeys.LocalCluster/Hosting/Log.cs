using Microsoft.Extensions.Logging;

namespace VirtualKeys.LocalCluster.Hosting;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Local Kubernetes API server (development and tests only) listening on {Address}")]
    public static partial void Listening(ILogger logger, Uri address);

    [LoggerMessage(2, LogLevel.Error, "Unexpected failure serving {Method} {Path}")]
    public static partial void RequestFailed(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "CustomResourceDefinition {Name} is stored but cannot be served")]
    public static partial void CrdNotServed(ILogger logger, string name, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "Background {Work} for {Subject} failed")]
    public static partial void LifecycleFailed(ILogger logger, string work, string subject, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "Fault injection dropped {Count} open watches")]
    public static partial void WatchesDropped(ILogger logger, int count);
}
