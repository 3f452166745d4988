using Microsoft.Extensions.Logging;

namespace VirtualKeys.Operator.Runtime.Hosting;

internal static partial class HostingLog
{
    [LoggerMessage(4000, LogLevel.Information, "Waiting for {Count} informer caches to sync")]
    public static partial void WaitingForCaches(ILogger logger, int count);

    [LoggerMessage(4001, LogLevel.Information, "Leading: starting {Count} controllers")]
    public static partial void Leading(ILogger logger, int count);

    [LoggerMessage(4002, LogLevel.Information, "Shutting down: letting running reconciles finish for up to {Timeout}")]
    public static partial void Draining(ILogger logger, TimeSpan timeout);

    [LoggerMessage(4003, LogLevel.Warning, "Reconciles still running after {Timeout}; cancelling them")]
    public static partial void DrainTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(4004, LogLevel.Error, "The {Kind} informer stopped with an error")]
    public static partial void InformerFailed(ILogger logger, Exception exception, string kind);

    [LoggerMessage(4005, LogLevel.Information, "Controllers stopped")]
    public static partial void Stopped(ILogger logger);
}
