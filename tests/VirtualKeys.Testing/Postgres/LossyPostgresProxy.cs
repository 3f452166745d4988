using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace VirtualKeys.Testing.Postgres;

/// <summary>
/// A TCP proxy in front of a test's PostgreSQL that loses one statement's round trip as a network
/// that breaks does: the statement reaches the server and its answer never comes back, or it never
/// reaches the server. Then the client's connection is cut, and the client cannot tell which.
/// </summary>
/// <remarks>
/// The statement is recognised by a piece of its SQL text in what the client sends (Npgsql sends the
/// text with every unprepared statement). Only connections opened through <see cref="ConnectionString"/> pass here.
/// </remarks>
public sealed class LossyPostgresProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _upstreamHost;
    private readonly int _upstreamPort;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _sockets = [];
    private readonly HashSet<TcpClient> _losing = [];
    private readonly Task _accepting;
    private Loss? _armed;

    private LossyPostgresProxy(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _upstreamHost = builder.Host ?? "127.0.0.1";
        _upstreamPort = builder.Port;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        builder.Host = IPAddress.Loopback.ToString();
        builder.Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        ConnectionString = builder.ConnectionString;
        _accepting = AcceptAsync();
    }

    /// <summary>The test database's connection string, through the proxy.</summary>
    public string ConnectionString { get; }

    public static LossyPostgresProxy Start(string connectionString) => new(connectionString);

    /// <summary>
    /// Loses the next statement whose text contains <paramref name="sqlPart"/>. The task completes once
    /// it was caught: handed to the server with its answer held back (<paramref name="delivered"/>),
    /// or dropped. The connection stays open, the client waiting, until <see cref="CutCaught"/>.
    /// </summary>
    public Task LoseNextAsync(string sqlPart, bool delivered)
    {
        var loss = new Loss(Encoding.UTF8.GetBytes(sqlPart), delivered);
        lock (_gate)
        {
            _armed = loss;
        }

        return loss.Caught.Task;
    }

    /// <summary>Closes the connection whose statement was lost: the client reads the end of the stream.</summary>
    public void CutCaught()
    {
        lock (_gate)
        {
            foreach (var socket in _losing)
            {
                socket.Client.Close();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        lock (_gate)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            var server = new TcpClient();
            try
            {
                await server.ConnectAsync(_upstreamHost, _upstreamPort, _stopping.Token);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            lock (_gate)
            {
                _sockets.Add(client);
                _sockets.Add(server);
            }

            var connection = new Connection();
            _ = PumpAsync(client, server, connection, fromClient: true);
            _ = PumpAsync(server, client, connection, fromClient: false);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, Connection connection, bool fromClient)
    {
        var buffer = new byte[64 * 1024];
        var seen = new List<byte>();
        try
        {
            var source = from.GetStream();
            var target = to.GetStream();
            while (true)
            {
                var read = await source.ReadAsync(buffer, _stopping.Token);
                if (read == 0)
                {
                    break;
                }

                var chunk = buffer.AsMemory(0, read);
                if (fromClient && connection.Loss is null && Catches(connection, seen, chunk.Span, from, to) is { } loss)
                {
                    if (loss.Delivered)
                    {
                        await target.WriteAsync(chunk, _stopping.Token);
                    }

                    loss.Caught.TrySetResult();
                }
                else if (connection.Loss is null)
                {
                    await target.WriteAsync(chunk, _stopping.Token);
                }

                // Once a statement is lost, nothing more passes either way: its answer is held back for good.
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            from.Client.Close();
            to.Client.Close();
        }
    }

    /// <summary>The armed loss, if this chunk (with the tail of the ones before) carries its statement; it is then this connection's.</summary>
    private Loss? Catches(Connection connection, List<byte> seen, ReadOnlySpan<byte> chunk, TcpClient client, TcpClient server)
    {
        Loss? armed;
        lock (_gate)
        {
            armed = _armed;
        }

        if (armed is null)
        {
            return null;
        }

        seen.AddRange(chunk);
        if (seen.ToArray().AsSpan().IndexOf(armed.SqlPart) < 0)
        {
            // A statement's text may come split across two reads.
            seen.RemoveRange(0, Math.Max(0, seen.Count - armed.SqlPart.Length + 1));
            return null;
        }

        lock (_gate)
        {
            if (!ReferenceEquals(_armed, armed))
            {
                return null;
            }

            _armed = null;
            _losing.Add(client);
            _losing.Add(server);
        }

        connection.Loss = armed;
        return armed;
    }

    private sealed class Connection
    {
        public volatile Loss? Loss;
    }

    private sealed record Loss(byte[] SqlPart, bool Delivered)
    {
        public TaskCompletionSource Caught { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
