using System.Threading.Channels;
using Npgsql;

namespace VirtualKeys.Registry.Connections;

/// <summary>
/// LISTENs on one NOTIFY channel on a dedicated connection and hands the payloads, turned into
/// <typeparamref name="T"/> by the caller, out as an async stream. When the connection drops the
/// stream ends with <see cref="RegistryUnavailableException"/> (or what else broke it); reconnecting
/// is the caller's loop.
/// </summary>
internal sealed class NotificationListener<T> : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly RegistryDatabase _database;
    private readonly string _channel;
    private readonly Action<string, ChannelWriter<T>> _onPayload;
    private readonly Action<Exception>? _onLost;
    private readonly Channel<T> _items = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _pump = Task.CompletedTask;
    private int _disposed;

    private NotificationListener(
        NpgsqlConnection connection, RegistryDatabase database, string channel, Action<string, ChannelWriter<T>> onPayload, Action<Exception>? onLost)
    {
        _connection = connection;
        _database = database;
        _channel = channel;
        _onPayload = onPayload;
        _onLost = onLost;
    }

    /// <param name="onPayload">Called on Npgsql's reading thread for each notification: writes what it stands for, if anything.</param>
    /// <param name="onLost">Called once when the connection is lost (for a log line).</param>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public static async Task<NotificationListener<T>> StartAsync(
        RegistryDatabase database,
        string channel,
        Action<string, ChannelWriter<T>> onPayload,
        Action<Exception>? onLost,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        var connection = await database.OpenDedicatedConnectionAsync(cancellationToken);
        var listener = new NotificationListener<T>(connection, database, channel, onPayload, onLost);
        try
        {
            connection.Notification += listener.OnNotification;
            await using (var listen = new NpgsqlCommand("LISTEN " + channel, connection))
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

    public IAsyncEnumerable<T> ReadAllAsync(CancellationToken cancellationToken) => _items.Reader.ReadAllAsync(cancellationToken);

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
        _items.Writer.TryComplete();
    }

    private async Task PumpAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await _connection.WaitAsync(_stopping.Token);
            }

            _items.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            _items.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            _onLost?.Invoke(ex);
            _items.Writer.TryComplete(RegistryDatabase.IsUnavailable(ex, CancellationToken.None) ? _database.Unavailable(ex) : ex);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs args)
    {
        if (args.Channel == _channel)
        {
            _onPayload(args.Payload, _items.Writer);
        }
    }
}
