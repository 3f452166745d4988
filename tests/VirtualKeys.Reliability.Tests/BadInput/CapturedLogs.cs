using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>
/// Log lines of an operator or sidecar, and (for an operator) how often the controller finished a reconcile of each VirtualKey
/// (its "reconciled" and "failed" events): the per-key count that shows a hot loop.
/// </summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    // Runtime/Controllers/ControllerLog.cs: Reconciled, RequeuedAfter, Failed.
    private static readonly HashSet<int> ReconcileEvents = [2002, 2003, 2004];

    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentDictionary<string, int> _reconciles = new(StringComparer.Ordinal);

    public string All => string.Join('\n', _lines);

    public IReadOnlyList<string> ErrorLines => [.. _lines.Where(l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal))];

    public int Errors => ErrorLines.Count;

    public int ReconcilesOf(string name) => _reconciles.TryGetValue(name, out var count) ? count : 0;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner._lines.Enqueue($"{logLevel} {formatter(state, exception)} {exception}");
            if (ReconcileEvents.Contains(eventId.Id) && state is IEnumerable<KeyValuePair<string, object?>> values
                && values.FirstOrDefault(v => v.Key == "Name").Value is string name)
            {
                owner._reconciles.AddOrUpdate(name, 1, (_, n) => n + 1);
            }
        }
    }
}
