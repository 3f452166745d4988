using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// Collects what Npgsql logs about the commands it executes and the transactions it begins and
/// commits, for one data source: what a registry call costs PostgreSQL, counted on the client.
/// </summary>
internal sealed class NpgsqlCommandLog : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, string Message)> _entries = new();

    /// <summary>Commands executed (each one round trip; a transaction's BEGIN travels with the first).</summary>
    public IReadOnlyList<string> Commands =>
        [.. _entries.Where(e => e.Category == "Npgsql.Command" && e.Message.Contains("execution completed", StringComparison.OrdinalIgnoreCase)).Select(e => e.Message)];

    /// <summary>Transaction begins, commits and rollbacks.</summary>
    public IReadOnlyList<string> Transactions => [.. _entries.Where(e => e.Category == "Npgsql.Transaction").Select(e => e.Message)];

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<(string Category, string Message)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((category, formatter(state, exception)));
    }
}
