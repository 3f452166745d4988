using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VirtualKeys.Testing.Postgres;

/// <summary>
/// A throwaway PostgreSQL 15 cluster in a temp directory, listening on 127.0.0.1 on a free port,
/// with trust authentication for the <c>postgres</c> superuser and fsync off.
/// </summary>
/// <remarks>
/// <para>
/// Chaos tests can <see cref="KillAsync"/> it (SIGKILL to the postmaster and all its processes,
/// as a crash would) and <see cref="StartAsync"/> it again on the same data directory and port.
/// </para>
/// <para>
/// PostgreSQL refuses to run as root, so when the test process is root every PostgreSQL command runs
/// as the <c>postgres</c> user through <c>runuser</c> and the temp directory belongs to that user.
/// A watchdog shell, fed by a pipe from this process, kills the cluster and removes the directory
/// when the pipe closes, which also happens when the test process dies without disposing anything.
/// </para>
/// </remarks>
public sealed class PostgresCluster : IAsyncDisposable
{
    private const string ServiceUser = "postgres";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private readonly string _binDirectory;
    private readonly Process _watchdog;
    private bool _disposed;

    private PostgresCluster(string rootDirectory, int port, string binDirectory, Process watchdog)
    {
        RootDirectory = rootDirectory;
        Port = port;
        _binDirectory = binDirectory;
        _watchdog = watchdog;
    }

    /// <summary>Where the PostgreSQL binaries are taken from: <c>VK_POSTGRES_BIN</c>, else the Debian path of PostgreSQL 15.</summary>
    public static string DefaultBinDirectory =>
        Environment.GetEnvironmentVariable("VK_POSTGRES_BIN") is { Length: > 0 } bin ? bin : "/usr/lib/postgresql/15/bin";

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Username => ServiceUser;

    /// <summary>The temp directory that holds the data directory and the server log; removed on dispose.</summary>
    public string RootDirectory { get; }

    public string DataDirectory => Path.Combine(RootDirectory, "data");

    public string LogFile => Path.Combine(RootDirectory, "postgres.log");

    public bool IsRunning { get; private set; }

    /// <summary>Creates a cluster with <c>initdb</c> and starts it.</summary>
    public static async Task<PostgresCluster> StartNewAsync(string? binDirectory = null, CancellationToken cancellationToken = default)
    {
        binDirectory ??= DefaultBinDirectory;
        if (!File.Exists(Path.Combine(binDirectory, "initdb")))
        {
            throw new InvalidOperationException(
                $"PostgreSQL binaries not found in {binDirectory}: install postgresql-15, set VK_POSTGRES_BIN, or set VK_TEST_POSTGRES to a server you own.");
        }

        var root = await CreateRootDirectoryAsync(cancellationToken);
        var watchdog = StartWatchdog(root);
        var cluster = new PostgresCluster(root, LoopbackPorts.Free(), binDirectory, watchdog);
        try
        {
            await cluster.InitializeDataDirectoryAsync(cancellationToken);
            await cluster.StartAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public string GetConnectionString(string database = "postgres") =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"Host={Host};Port={Port};Username={ServiceUser};Database={database};Timeout=15;Command Timeout=60");

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsRunning)
        {
            return;
        }

        try
        {
            await RunAsync(
                Tool("pg_ctl"),
                ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-s", "start"],
                cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            var log = File.Exists(LogFile) ? string.Join(Environment.NewLine, File.ReadLines(LogFile).TakeLast(15)) : "(no log)";
            throw new InvalidOperationException($"PostgreSQL on port {Port} did not start; the end of {LogFile}:{Environment.NewLine}{log}", ex);
        }

        IsRunning = true;
    }

    /// <summary>A clean ("fast") shutdown: sessions are ended, data is checkpointed.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        await RunAsync(Tool("pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "-s", "stop"], cancellationToken);
        IsRunning = false;
    }

    /// <summary>
    /// SIGKILL to the postmaster and every backend, like a machine losing power; returns when they
    /// are gone, so <see cref="StartAsync"/> runs crash recovery on the same data directory and port.
    /// </summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + CommandTimeout;
        var postmaster = ReadPostmasterPid();

        // Every PostgreSQL process works in its data directory, and each child calls setsid(), so
        // neither the parent pid nor the process group finds them all; the working directory does.
        for (var processes = ProcessesIn(DataDirectory, postmaster); processes.Count > 0; processes = ProcessesIn(DataDirectory, postmaster))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"PostgreSQL processes {string.Join(", ", processes)} on port {Port} did not die after SIGKILL.");
            }

            foreach (var pid in processes)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Already gone.
                }
            }

            await Task.Delay(50, cancellationToken);
        }

        IsRunning = false;

        // A postmaster left as an unreaped zombie still answers kill(pid, 0), and PostgreSQL would take
        // its lock files for a live server's and refuse to start.
        File.Delete(Path.Combine(DataDirectory, "postmaster.pid"));
        File.Delete(Path.Combine(RootDirectory, string.Create(CultureInfo.InvariantCulture, $".s.PGSQL.{Port}.lock")));
        File.Delete(Path.Combine(RootDirectory, string.Create(CultureInfo.InvariantCulture, $".s.PGSQL.{Port}")));
    }

    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync(cancellationToken);
        await StartAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            // Everything is thrown away, so there is nothing to checkpoint: a kill is the quickest stop.
            await KillAsync(CancellationToken.None);
        }
        finally
        {
            // Closing the pipe lets the watchdog remove the directory; it is the same path as a crash of this process.
            _watchdog.StandardInput.Close();
            using var timeout = new CancellationTokenSource(CommandTimeout);
            await _watchdog.WaitForExitAsync(timeout.Token);
            _watchdog.Dispose();
        }
    }

    private static bool RunsAsRoot => Environment.IsPrivilegedProcess;

    private string Tool(string name) => Path.Combine(_binDirectory, name);

    private async Task InitializeDataDirectoryAsync(CancellationToken cancellationToken)
    {
        await RunAsync(
            Tool("initdb"),
            ["-D", DataDirectory, "-U", ServiceUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            cancellationToken);

        // fsync off: a test never survives an OS crash anyway. synchronous_commit stays on, so a
        // commit is in the WAL before it returns and survives KillAsync, as in production.
        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# VirtualKeys.Testing: a throwaway cluster, speed over durability against OS crashes")
            .AppendLine("listen_addresses = '127.0.0.1'")
            .AppendLine(CultureInfo.InvariantCulture, $"port = {Port}")
            .AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{RootDirectory}'")
            .AppendLine("max_connections = 300")
            .AppendLine("fsync = off")
            .AppendLine("full_page_writes = off")
            .AppendLine("shared_buffers = 64MB")
            .AppendLine("log_min_messages = warning")
            .ToString();

        // Appending to an existing file keeps its owner, so this works for root and for the service user alike.
        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), settings, cancellationToken);
    }

    private int? ReadPostmasterPid()
    {
        var pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return null;
        }

        var firstLine = File.ReadLines(pidFile).FirstOrDefault();
        return int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>Live (not zombie) processes whose working directory is <paramref name="directory"/>, the postmaster first.</summary>
    private static List<int> ProcessesIn(string directory, int? postmaster)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (File.ResolveLinkTarget(Path.Combine(entry, "cwd"), returnFinalTarget: false)?.FullName != directory)
                {
                    continue;
                }

                // "pid (comm) state ...": the state follows the last ')'.
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            found.Add(pid);
        }

        // The postmaster goes first, so it forks nothing new while its children are killed.
        return [.. found.OrderBy(pid => pid == postmaster ? 0 : 1)];
    }

    private static async Task<string> CreateRootDirectoryAsync(CancellationToken cancellationToken)
    {
        var root = Path.Combine(Path.GetTempPath(), "vk-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        if (RunsAsRoot)
        {
            await RunAsync("chown", [ServiceUser + ":", root], cancellationToken, runAsServiceUser: false);
        }

        return root;
    }

    private static Process StartWatchdog(string root)
    {
        // Reads until this process closes the pipe (or dies), then kills every process working in the
        // data directory and removes the directory.
        const string Script =
            """
            cat >/dev/null
            while :; do
                killed=
                for proc in /proc/[0-9]*; do
                    if [ "$(readlink "$proc/cwd" 2>/dev/null)" = "$1/data" ]; then kill -9 "${proc#/proc/}" 2>/dev/null && killed=1; fi
                done
                [ -z "$killed" ] && break
                sleep 0.2
            done
            rm -rf -- "$1"
            """;
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-c", Script, "vk-postgres-watchdog", root })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("Could not start the PostgreSQL cleanup watchdog.");
    }

    private static Task<int> RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(file, arguments, cancellationToken, runAsServiceUser: true);

    private static async Task<int> RunAsync(
        string file,
        IReadOnlyList<string> arguments,
        CancellationToken cancellationToken,
        bool runAsServiceUser,
        bool allowFailure = false)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (runAsServiceUser && RunsAsRoot)
        {
            start.FileName = "runuser";
            foreach (var argument in new[] { "-u", ServiceUser, "--", file })
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            start.FileName = file;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException(
                $"{Path.GetFileName(file)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {(await error).Trim()} {(await output).Trim()}");
        }

        return process.ExitCode;
    }
}
