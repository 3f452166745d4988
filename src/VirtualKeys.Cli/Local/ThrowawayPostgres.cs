using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace VirtualKeys.Cli.Local;

/// <summary>
/// A PostgreSQL server for one run of the demo: a fresh cluster in a temp directory, on a free
/// loopback port, trust authentication for <c>postgres</c>, durability traded for speed. Disposing
/// it stops the server and deletes the directory.
/// </summary>
/// <remarks>
/// A watchdog shell reads a pipe from this process; when the pipe closes (dispose, or this process
/// dying without cleaning up) it kills what is left of the server and removes the directory, so a
/// killed demo leaves no server behind.
/// </remarks>
internal sealed class ThrowawayPostgres : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);
    private readonly string _binDirectory;
    private readonly Process _watchdog;
    private int _disposed;

    private ThrowawayPostgres(string directory, int port, string binDirectory, Process watchdog)
    {
        Directory = directory;
        Port = port;
        _binDirectory = binDirectory;
        _watchdog = watchdog;
    }

    /// <summary><c>VK_POSTGRES_BIN</c>, else Debian's and Ubuntu's path of PostgreSQL 15.</summary>
    public static string DefaultBinDirectory =>
        Environment.GetEnvironmentVariable("VK_POSTGRES_BIN") is { Length: > 0 } bin ? bin : "/usr/lib/postgresql/15/bin";

    public string Directory { get; }

    public int Port { get; }

    public string ConnectionString =>
        string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username={ServiceUserProcess.ServiceUser};Database=postgres;Timeout=15");

    private string DataDirectory => Path.Combine(Directory, "data");

    private string LogFile => Path.Combine(Directory, "postgres.log");

    /// <exception cref="InvalidOperationException">The binaries are missing, or initdb or the server failed; the message says which and shows the log's end.</exception>
    public static async Task<ThrowawayPostgres> StartAsync(string? binDirectory, CancellationToken cancellationToken)
    {
        binDirectory ??= DefaultBinDirectory;
        if (!File.Exists(Path.Combine(binDirectory, "initdb")) || !File.Exists(Path.Combine(binDirectory, "pg_ctl")))
        {
            throw new InvalidOperationException(
                $"the PostgreSQL 15 server binaries are not in {binDirectory}: install postgresql-15, set VK_POSTGRES_BIN to their folder, or pass --postgres with a connection string to a server you own");
        }

        var directory = Path.Combine(Path.GetTempPath(), "vk-demo-pg-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        if (ServiceUserProcess.RunsAsRoot)
        {
            await ServiceUserProcess.RunAsync("chown", [ServiceUserProcess.ServiceUser + ":", directory], CommandTimeout, cancellationToken, asServiceUser: false);
        }

        var server = new ThrowawayPostgres(directory, FreePort(), binDirectory, StartWatchdog(directory));
        try
        {
            await server.InitializeAsync(cancellationToken);
            await server.StartServerAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                // Nothing here is worth a checkpoint: "immediate" is the quickest clean stop.
                await ServiceUserProcess.RunAsync(Tool("pg_ctl"), ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "30", "-s", "stop"], CommandTimeout, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // The watchdog kills whatever is left.
        }
        finally
        {
            _watchdog.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _watchdog.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _watchdog.Kill(entireProcessTree: true);
            }

            _watchdog.Dispose();
        }
    }

    private string Tool(string name) => Path.Combine(_binDirectory, name);

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await ServiceUserProcess.RunAsync(
            Tool("initdb"),
            ["-D", DataDirectory, "-U", ServiceUserProcess.ServiceUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            CommandTimeout,
            cancellationToken);
        string[] settings =
        [
            "",
            "# vk demo: a throwaway server on loopback; speed over durability",
            "listen_addresses = '127.0.0.1'",
            string.Create(CultureInfo.InvariantCulture, $"port = {Port}"),
            $"unix_socket_directories = '{Directory}'",
            "fsync = off",
            "full_page_writes = off",
            "synchronous_commit = off",
            "log_min_messages = warning",
        ];
        await File.AppendAllLinesAsync(Path.Combine(DataDirectory, "postgresql.conf"), settings, cancellationToken);
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ServiceUserProcess.RunAsync(Tool("pg_ctl"), ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-s", "start"], CommandTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            var log = File.Exists(LogFile) ? string.Join(" | ", File.ReadLines(LogFile).TakeLast(5)) : "no log";
            throw new InvalidOperationException($"PostgreSQL did not start on 127.0.0.1:{Port}: {ex.Message} ({log})", ex);
        }
    }

    private static Process StartWatchdog(string directory)
    {
        const string Script =
            """
            cat >/dev/null
            pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
            if [ -n "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; sleep 0.2; fi
            rm -rf -- "$1"
            """;
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-c", Script, "vk-demo-postgres-watchdog", directory })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("the PostgreSQL clean-up watchdog did not start");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
