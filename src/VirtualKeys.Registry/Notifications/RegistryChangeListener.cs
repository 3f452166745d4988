using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
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

    private readonly NpgsqlConnection _connection;
    private readonly RegistryDatabase _database;
    private readonly ILogger _logger;
    private readonly Channel<RegistryChange> _changes = System.Threading.Channels.Channel.CreateUnbounded<RegistryChange>(
        new UnboundedChannelOptions { SingleWriter = true });

    private readonly CancellationTokenSource _stopping = new();
    private Task _pump = Task.CompletedTask;
    private int _disposed;

    private RegistryChangeListener(NpgsqlConnection connection, RegistryDatabase database, ILogger logger)
    {
        _connection = connection;
        _database = database;
        _logger = logger;
    }

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
        var connection = await database.OpenDedicatedConnectionAsync(cancellationToken);
        var listener = new RegistryChangeListener(connection, database, logger ?? NullLogger<RegistryChangeListener>.Instance);
        try
        {
            connection.Notification += listener.OnNotification;
            await using (var listen = new NpgsqlCommand("LISTEN " + Channel, connection))
            {
                await listen.ExecuteNonQueryAsync(cancellationToken);
            }

            listener._pump = Task.Run(listener.PumpAsync, CancellationToken.None);
            return listener;
        }
        catch (Exception ex) when (RegistryDatabase.IsUnavailable(ex, cancellationToken))
        {
            await listener.DisposeAsync();
            throw database.Unavailable(ex);
        }
        catch
        {
            await listener.DisposeAsync();
            throw;
        }
    }

    /// <summary>Changes in commit order, until the listener is disposed or the connection is lost.</summary>
    /// <exception cref="RegistryUnavailableException">The connection was lost.</exception>
    public IAsyncEnumerable<RegistryChange> ReadAllAsync(CancellationToken cancellationToken) =>
        _changes.Reader.ReadAllAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await _pump;
        }
        catch (OperationCanceledException)
        {
        }

        _connection.Notification -= OnNotification;
        await _connection.DisposeAsync();
        _stopping.Dispose();
        _changes.Writer.TryComplete();
    }

    private async Task PumpAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await _connection.WaitAsync(_stopping.Token);
            }

            _changes.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            _changes.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            var unavailable = RegistryDatabase.IsUnavailable(ex, CancellationToken.None) ? _database.Unavailable(ex) : ex;
            Log.ConnectionLost(_logger, _database.Endpoint, ex);
            _changes.Writer.TryComplete(unavailable);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs args)
    {
        if (args.Channel != Channel)
        {
            return;
        }

        if (RegistryChange.TryParse(args.Payload, out var change))
        {
            _changes.Writer.TryWrite(change);
        }
        else
        {
            Log.UnreadablePayload(_logger, args.Payload.Length);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Warning, "Lost the registry change listener's connection to {Endpoint}")]
        public static partial void ConnectionLost(ILogger logger, string endpoint, Exception exception);

        [LoggerMessage(3002, LogLevel.Warning, "Ignored a registry notification that is not a registry change ({Length} characters)")]
        public static partial void UnreadablePayload(ILogger logger, int length);
    }
}
