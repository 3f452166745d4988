using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Notifications;

/// <summary>
/// LISTENs for registry changes on a dedicated connection and hands them out as an async stream.
/// </summary>
/// <remarks>
/// <para>
/// When the connection drops, <see cref="ReadAllAsync"/> ends with <see cref="RegistryUnavailableException"/>.
/// Reconnecting is the caller's loop: start a new listener, then read what changed since the last
/// change version seen, because notifications sent while nobody listened are gone:
/// </para>
/// <code>
/// while (!stoppingToken.IsCancellationRequested)
/// {
///     try
///     {
///         await using var listener = await RegistryChangeListener.StartAsync(database, stoppingToken);
///         var changed = await registry.ListChangedSinceAsync(lastVersion, includeCredentials: true, stoppingToken);
///         apply(changed); lastVersion = changed.ChangeVersion;
///         await foreach (var change in listener.ReadAllAsync(stoppingToken)) { ... }
///     }
///     catch (RegistryUnavailableException) { await Task.Delay(backoff, stoppingToken); }
/// }
/// </code>
/// </remarks>
public sealed partial class RegistryChangeListener : IAsyncDisposable
{
    /// <summary>The one NOTIFY channel of the registry.</summary>
    public const string Channel = "vk_registry_changes";

    private readonly NotificationListener<RegistryChange> _listener;

    private RegistryChangeListener(NotificationListener<RegistryChange> listener) => _listener = listener;

    /// <summary>Opens the connection and LISTENs; notifications committed after this returns are delivered.</summary>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public static Task<RegistryChangeListener> StartAsync(RegistryDatabase database, CancellationToken cancellationToken) =>
        StartAsync(database, logger: null, cancellationToken);

    /// <inheritdoc cref="StartAsync(RegistryDatabase, CancellationToken)"/>
    public static async Task<RegistryChangeListener> StartAsync(
        RegistryDatabase database,
        ILogger<RegistryChangeListener>? logger,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        var log = logger ?? (ILogger)NullLogger<RegistryChangeListener>.Instance;
        var listener = await NotificationListener<RegistryChange>.StartAsync(
            database,
            Channel,
            (payload, changes) =>
            {
                if (RegistryChange.TryParse(payload, out var change))
                {
                    changes.TryWrite(change);
                }
                else
                {
                    Log.UnreadablePayload(log, payload.Length);
                }
            },
            ex => Log.ConnectionLost(log, database.Endpoint, ex),
            cancellationToken);
        return new RegistryChangeListener(listener);
    }

    /// <summary>Changes in commit order, until the listener is disposed or the connection is lost.</summary>
    /// <exception cref="RegistryUnavailableException">The connection was lost.</exception>
    public IAsyncEnumerable<RegistryChange> ReadAllAsync(CancellationToken cancellationToken) => _listener.ReadAllAsync(cancellationToken);

    public ValueTask DisposeAsync() => _listener.DisposeAsync();

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Warning, "Lost the registry change listener's connection to {Endpoint}")]
        public static partial void ConnectionLost(ILogger logger, string endpoint, Exception exception);

        [LoggerMessage(3002, LogLevel.Warning, "Ignored a registry notification that is not a registry change ({Length} characters)")]
        public static partial void UnreadablePayload(ILogger logger, int length);
    }
}
