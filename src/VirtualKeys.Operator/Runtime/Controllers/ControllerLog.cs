using Microsoft.Extensions.Logging;

namespace VirtualKeys.Operator.Runtime.Controllers;

internal static partial class ControllerLog
{
    [LoggerMessage(2000, LogLevel.Information, "Controller {Controller} starting {Workers} workers")]
    public static partial void Starting(ILogger logger, string controller, int workers);

    [LoggerMessage(2001, LogLevel.Information, "Controller {Controller} workers stopped")]
    public static partial void Stopped(ILogger logger, string controller);

    [LoggerMessage(2002, LogLevel.Debug, "Controller {Controller} reconciled {Namespace}/{Name} in {Duration}")]
    public static partial void Reconciled(ILogger logger, string controller, string? @namespace, string name, TimeSpan duration);

    [LoggerMessage(2003, LogLevel.Debug, "Controller {Controller} reconciled {Namespace}/{Name}; again in {Delay}")]
    public static partial void RequeuedAfter(ILogger logger, string controller, string? @namespace, string name, TimeSpan delay);

    [LoggerMessage(2004, LogLevel.Error, "Controller {Controller} failed to reconcile {Namespace}/{Name} (attempt {Attempt}); retrying with backoff")]
    public static partial void Failed(ILogger logger, Exception exception, string controller, string? @namespace, string name, int attempt);

    [LoggerMessage(2005, LogLevel.Information, "Controller {Controller} abandoned the reconcile of {Namespace}/{Name}; it is queued again")]
    public static partial void Aborted(ILogger logger, string controller, string? @namespace, string name);
}
