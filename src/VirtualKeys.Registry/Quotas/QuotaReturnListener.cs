using System.Threading.Channels;
using Npgsql;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Quotas;

/// <summary>
/// LISTENs on <see cref="QuotaLedger.ReturnsChannel"/> on a dedicated connection: which keys other
/// replicas gave leases back for, so a replica that found a counter used up asks again only then.
/// </summary>
/// <remarks>
/// A notification says only that something came back; a missed one costs capacity that stays
/// unused until the window or period ends, never an admission beyond a limit. When the connection
/// drops, <see cref="ReadAllAsync"/> ends with <see cref="RegistryUnavailableException"/>: start a new
/// listener and treat every key as possibly refilled.
/// </remarks>
public sealed class QuotaReturnListener : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly RegistryDatabase _database;
    private readonly string _replicaId;
    private readonly Channel<string> _keys = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _pump = Task.CompletedTask;
    private int _disposed;

    private QuotaReturnListener(NpgsqlConnection connection, RegistryDatabase database, string replicaId)
    {
        _connection = connection;
        _database = database;
        _replicaId = replicaId;
    }

    /// <param name="replicaId">This replica: its own returns are not handed out.</param>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public static async Task<QuotaReturnListener> StartAsync(RegistryDatabase database, string replicaId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentException.ThrowIfNullOrEmpty(replicaId);
        var connection = await database.OpenDedicatedConnectionAsync(cancellationToken);
        var listener = new QuotaReturnListener(connection, database, replicaId);
        try
        {
            connection.Notification += listener.OnNotification;
            await using (var listen = new NpgsqlCommand("LISTEN " + QuotaLedger.ReturnsChannel, connection))
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

    /// <summary>Ids of keys another replica gave leases back for, until disposed or the connection is lost.</summary>
    /// <exception cref="RegistryUnavailableException">The connection was lost.</exception>
    public IAsyncEnumerable<string> ReadAllAsync(CancellationToken cancellationToken) => _keys.Reader.ReadAllAsync(cancellationToken);

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
        _keys.Writer.TryComplete();
    }

    private async Task PumpAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await _connection.WaitAsync(_stopping.Token);
            }

            _keys.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            _keys.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            _keys.Writer.TryComplete(RegistryDatabase.IsUnavailable(ex, CancellationToken.None) ? _database.Unavailable(ex) : ex);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs args)
    {
        if (args.Channel == QuotaLedger.ReturnsChannel
            && QuotaLedger.TryParseReturnPayload(args.Payload, out var keyId, out var replicaId)
            && !string.Equals(replicaId, _replicaId, StringComparison.Ordinal))
        {
            _keys.Writer.TryWrite(keyId);
        }
    }
}
