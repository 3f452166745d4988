using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace VirtualKeys.Registry.Connections;

/// <summary>
/// The registry's PostgreSQL database: a pooled <see cref="NpgsqlDataSource"/> plus the host and port
/// that every connection failure is reported with as a <see cref="RegistryUnavailableException"/>.
/// </summary>
public sealed class RegistryDatabase : IAsyncDisposable, IDisposable
{
    private readonly string _connectionString;

    private RegistryDatabase(string connectionString, string host, int port, string? database, NpgsqlDataSource dataSource, NpgsqlDataSource preparedDataSource)
    {
        _connectionString = connectionString;
        Host = host;
        Port = port;
        Database = database;
        DataSource = dataSource;
        PreparedDataSource = preparedDataSource;
    }

    public string Host { get; }

    public int Port { get; }

    public string? Database { get; }

    /// <summary>"host:port/database", for messages and logs.</summary>
    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}/{Database}");

    public NpgsqlDataSource DataSource { get; }

    /// <summary>
    /// A second, small pool for statements run over and over (<see cref="RunPreparedAsync"/>). Npgsql
    /// prepares a statement there at its second use, in the same round trip, and PostgreSQL then no
    /// longer parses and plans it each time. Its connections are not reset when they go back to the
    /// pool: a reset would drop the prepared statements (DISCARD ALL) or, as Npgsql resets a
    /// connection that holds some, take five statements instead of one. So the work run on it must
    /// leave no session state behind: no SET, LISTEN, advisory lock, temporary table or open transaction.
    /// </summary>
    internal NpgsqlDataSource PreparedDataSource { get; }

    /// <summary>Checks the connection string and builds the pool; does not connect yet.</summary>
    /// <exception cref="RegistryUnavailableException">The connection string is malformed.</exception>
    public static RegistryDatabase Create(string connectionString, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
        {
            var (host, port) = GuessEndpoint(connectionString);
            throw new RegistryUnavailableException(
                $"The registry connection string (host {host ?? "?"}, port {port?.ToString(CultureInfo.InvariantCulture) ?? "?"}) is malformed: {Scrub(ex.Message, connectionString)}",
                host,
                port,
                innerException: null,
                connectionStringUsable: false);
        }

        var firstHost = (builder.Host ?? "localhost").Split(',')[0].Trim();
        if (string.IsNullOrEmpty(firstHost))
        {
            throw new RegistryUnavailableException(
                "The registry connection string names no host.", host: null, builder.Port, innerException: null, connectionStringUsable: false);
        }

        NpgsqlDataSourceBuilder NewBuilder()
        {
            var sourceBuilder = new NpgsqlDataSourceBuilder(builder.ConnectionString);
            if (loggerFactory is not null)
            {
                sourceBuilder.UseLoggerFactory(loggerFactory);
            }

            return sourceBuilder;
        }

        var dataSourceBuilder = NewBuilder();
        var preparedBuilder = NewBuilder();
        preparedBuilder.ConnectionStringBuilder.NoResetOnClose = true;
        preparedBuilder.ConnectionStringBuilder.MaxPoolSize = PreparedPoolSize;
        preparedBuilder.ConnectionStringBuilder.MinPoolSize = 0;

        // Its statements use PostgreSQL's built-in types only. Without this, the pool's first
        // connection would load the server's types again (three more statements per process).
        preparedBuilder.ConfigureTypeLoading(types => types.EnableTypeLoading(false));

        // A connection string that sets either keyword keeps its value: Max Auto Prepare=0 turns
        // preparing off, for a PgBouncer in transaction mode that cannot keep prepared statements
        // (before 1.21).
        if (!Sets(connectionString, "Max Auto Prepare", "MaxAutoPrepare"))
        {
            preparedBuilder.ConnectionStringBuilder.MaxAutoPrepare = 8;
        }

        if (!Sets(connectionString, "Auto Prepare Min Usages", "AutoPrepareMinUsages"))
        {
            preparedBuilder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }

        return new RegistryDatabase(builder.ConnectionString, firstHost, builder.Port, builder.Database, dataSourceBuilder.Build(), preparedBuilder.Build());
    }

    // NpgsqlConnectionStringBuilder knows every keyword, set or not; the plain parser sees only those given.
    private static bool Sets(string connectionString, params string[] spellings)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return spellings.Any(given.ContainsKey);
    }

    /// <summary>Connections of <see cref="PreparedDataSource"/> at most: a sidecar writes its usage from one flusher at a time.</summary>
    internal const int PreparedPoolSize = 8;

    /// <exception cref="RegistryUnavailableException">The server cannot be reached.</exception>
    public ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken) => OpenAsync(DataSource, cancellationToken);

    private async ValueTask<NpgsqlConnection> OpenAsync(NpgsqlDataSource source, CancellationToken cancellationToken)
    {
        try
        {
            return await source.OpenConnectionAsync(cancellationToken);
        }
        catch (Exception ex) when (IsUnavailable(ex, cancellationToken))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>For the synchronous callers (the Data Protection key ring) only.</summary>
    public NpgsqlConnection OpenConnection()
    {
        try
        {
            return DataSource.OpenConnection();
        }
        catch (Exception ex) when (IsUnavailable(ex, CancellationToken.None))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>
    /// A connection outside the pool, for a session that lives long (LISTEN): keepalives detect a dead
    /// server while the connection waits, and closing it never hands LISTEN state to another user.
    /// </summary>
    public async ValueTask<NpgsqlConnection> OpenDedicatedConnectionAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(_connectionString)
        {
            Pooling = false,
            KeepAlive = 10,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch (Exception ex) when (IsUnavailable(ex, cancellationToken))
        {
            await connection.DisposeAsync();
            throw Unavailable(ex);
        }
    }

    /// <summary>
    /// Runs a unit of work on a pooled connection; connection-level failures in the middle of it
    /// (the server went away) surface as <see cref="RegistryUnavailableException"/> too.
    /// </summary>
    public Task<T> RunAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        RunOnAsync(DataSource, work, cancellationToken);

    /// <summary>
    /// <see cref="RunAsync{T}"/> on a connection of <see cref="PreparedDataSource"/>, where a statement
    /// sent twice stays prepared for the connection's life. The work must leave no session state behind.
    /// </summary>
    internal Task<T> RunPreparedAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        RunOnAsync(PreparedDataSource, work, cancellationToken);

    private async Task<T> RunOnAsync<T>(NpgsqlDataSource source, Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        await using var connection = await OpenAsync(source, cancellationToken);
        try
        {
            return await work(connection, cancellationToken);
        }
        catch (Exception ex) when (IsUnavailable(ex, cancellationToken))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>
    /// The server refused one of Npgsql's prepared statements, as it does behind a PgBouncer in
    /// transaction mode, where a transaction may run on another server connection: the statement
    /// does not exist there (26000), its name is taken (42P05), or the name stands for another
    /// client's statement with other parameters (08P01 as an error, not a fatal one). Nothing ran.
    /// </summary>
    internal static bool IsPreparedStatementRefusal(Exception exception) =>
        exception is PostgresException pg
        && (pg.SqlState is PostgresErrorCodes.InvalidSqlStatementName or PostgresErrorCodes.DuplicatePreparedStatement
            || (pg.SqlState == PostgresErrorCodes.ProtocolViolation && pg.InvariantSeverity == "ERROR"));

    public T Run<T>(Func<NpgsqlConnection, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        using var connection = OpenConnection();
        try
        {
            return work(connection);
        }
        catch (Exception ex) when (IsUnavailable(ex, CancellationToken.None))
        {
            throw Unavailable(ex);
        }
    }

    internal RegistryUnavailableException Unavailable(Exception cause)
    {
        // Idle pooled connections to a server that went away are dead too: drop them, so the first
        // call after the server is back does not fail on one of them.
        DataSource.Clear();
        PreparedDataSource.Clear();
        var reason = cause switch
        {
            PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } pg =>
                $"the server is read-only, a standby (is a failover under way?) ({pg.SqlState}: {pg.MessageText})",
            PostgresException pg => $"the server refused the session ({pg.SqlState}: {pg.MessageText})",
            _ when FindInner<SocketException>(cause) is { } socket => socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused (is PostgreSQL running and listening there?)",
                SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "the host name does not resolve",
                SocketError.TimedOut => "the connection timed out",
                _ => "a network error: " + socket.SocketErrorCode,
            },
            _ when FindInner<TimeoutException>(cause) is not null => "the connection timed out",
            _ => "the connection failed or was lost",
        };
        return new RegistryUnavailableException(
            string.Create(CultureInfo.InvariantCulture, $"The registry database at {Host}:{Port} is unavailable: {reason}."),
            Host,
            Port,
            cause);
    }

    internal static bool IsUnavailable(Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested || exception is RegistryUnavailableException)
        {
            return false;
        }

        return exception switch
        {
            // 08: connection exceptions, 57P01-03: the server is shutting down or starting up, 53300: too many connections.
            // An 08P01 that is only an error, not fatal, left the session alive: Npgsql's prepared
            // statement was refused (IsPreparedStatementRefusal), the server is there.
            // 28 (the role or its password refused) and 3D000 (no such database) refuse the session
            // itself: the registry cannot be used until someone fixes the credentials, the database or
            // the connection string, which is an outage like any other to the code that waits one out
            // (a sidecar keeps serving from its snapshot), and one line naming host and port at start.
            // 25006 (a write refused as read-only) is a standby answering for the primary, as during a
            // failover until the name points at the promoted server: an outage too, and the pools are
            // cleared so the next connections resolve the name again.
            PostgresException pg => (pg.SqlState.StartsWith("08", StringComparison.Ordinal) && !IsPreparedStatementRefusal(pg))
                || pg.SqlState.StartsWith("28", StringComparison.Ordinal)
                || pg.SqlState is "57P01" or "57P02" or "57P03" or "53300" or "3D000"
                || pg.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction,
            NpgsqlException npgsql => npgsql.IsTransient
                || FindInner<SocketException>(npgsql) is not null
                || FindInner<IOException>(npgsql) is not null
                || FindInner<TimeoutException>(npgsql) is not null
                || npgsql.InnerException is EndOfStreamException,
            SocketException or TimeoutException => true,
            InvalidOperationException when exception.Message.Contains("connection is broken", StringComparison.OrdinalIgnoreCase) => true,
            _ => false,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await PreparedDataSource.DisposeAsync();
    }

    public void Dispose()
    {
        DataSource.Dispose();
        PreparedDataSource.Dispose();
    }

    private static T? FindInner<T>(Exception exception)
        where T : Exception
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is T match)
            {
                return match;
            }
        }

        return null;
    }

    /// <summary>Reads host and port with plain string splitting, for a string Npgsql refused to parse.</summary>
    private static (string? Host, int? Port) GuessEndpoint(string connectionString)
    {
        string? host = null;
        int? port = null;
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var key = part[..equals].Trim().ToLowerInvariant();
            var value = part[(equals + 1)..].Trim();
            if (key is "host" or "server")
            {
                host = value;
            }
            else if (key == "port" && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                port = parsed;
            }
        }

        return (host, port ?? (host is null ? null : 5432));
    }

    /// <summary>Parser messages quote keywords, not values; still, never let a password through.</summary>
    private static string Scrub(string message, string connectionString)
    {
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var key = part[..equals].Trim().ToLowerInvariant();
            var value = part[(equals + 1)..].Trim();
            if (key is "password" or "pwd" && value.Length > 0)
            {
                message = message.Replace(value, "***", StringComparison.Ordinal);
            }
        }

        return message.ReplaceLineEndings(" ");
    }
}
