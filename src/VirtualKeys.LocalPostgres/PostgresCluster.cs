using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VirtualKeys.LocalPostgres;

/// <summary>
/// A throwaway PostgreSQL 15 cluster in a temp directory, listening on 127.0.0.1 on a free port,
/// with trust authentication for the <c>postgres</c> superuser and fsync off. <c>vk demo</c>, the
/// tests and the benchmarks start one each; disposing it kills the server and deletes the directory.
/// </summary>
/// <remarks>
/// <para>
/// Chaos tests can <see cref="KillAsync"/> it (SIGKILL to the postmaster and all its processes,
/// as a crash would) and <see cref="StartAsync"/> it again on the same data directory and port.
/// </para>
/// <para>
/// PostgreSQL refuses to run as root, so when this process is root every PostgreSQL command runs
/// as the <c>postgres</c> user through <c>runuser</c> and the temp directory belongs to that user.
/// A watchdog shell, fed by a pipe from this process, kills the cluster and removes the directory
/// when the pipe closes, which also happens when this process dies without disposing anything.
/// </para>
/// </remarks>
public sealed class PostgresCluster : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How long disposing waits for the watchdog to remove the directory before it does so itself.</summary>
    private static readonly TimeSpan WatchdogGrace = TimeSpan.FromSeconds(10);

    private readonly string _binDirectory;
    private readonly string _realDataDirectory;
    private readonly Process _watchdog;
    private int _disposed;

    private PostgresCluster(string rootDirectory, string realDataDirectory, int port, string binDirectory, Process watchdog)
    {
        RootDirectory = rootDirectory;
        _realDataDirectory = realDataDirectory;
        Port = port;
        _binDirectory = binDirectory;
        _watchdog = watchdog;
    }

    /// <summary>Where the PostgreSQL binaries are taken from: <c>VK_POSTGRES_BIN</c>, else the Debian path of PostgreSQL 15.</summary>
    public static string DefaultBinDirectory =>
        Environment.GetEnvironmentVariable("VK_POSTGRES_BIN") is { Length: > 0 } bin ? bin : "/usr/lib/postgresql/15/bin";

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Username => ServiceUserProcess.ServiceUser;

    /// <summary>The temp directory that holds the data directory and the server log; removed on dispose.</summary>
    public string RootDirectory { get; }

    public string DataDirectory => Path.Combine(RootDirectory, "data");

    public string LogFile => Path.Combine(RootDirectory, "postgres.log");

    public bool IsRunning { get; private set; }

    /// <summary>Creates a cluster with <c>initdb</c> and starts it.</summary>
    /// <param name="binDirectory">Where <c>initdb</c> and <c>pg_ctl</c> are; <see cref="DefaultBinDirectory"/> when null.</param>
    /// <param name="directoryPrefix">The start of the temp directory's name, so a reader of <c>/tmp</c> sees who made it.</param>
    /// <param name="cancellationToken">Stops the start; the cluster made so far is removed.</param>
    /// <exception cref="PostgresBinariesNotFoundException">The binaries are not in <paramref name="binDirectory"/>.</exception>
    /// <exception cref="InvalidOperationException">initdb or the server failed; the message shows the end of the server log.</exception>
    /// <exception cref="TimeoutException">A PostgreSQL command did not finish in time.</exception>
    public static async Task<PostgresCluster> StartNewAsync(
        string? binDirectory = null,
        string directoryPrefix = "vk-pg-",
        CancellationToken cancellationToken = default)
    {
        binDirectory ??= DefaultBinDirectory;
        if (!File.Exists(Path.Combine(binDirectory, "initdb")) || !File.Exists(Path.Combine(binDirectory, "pg_ctl")))
        {
            throw new PostgresBinariesNotFoundException(binDirectory);
        }

        var root = CreateRootDirectory(directoryPrefix);

        // /proc/[pid]/cwd shows the data directory with every symbolic link resolved (TMPDIR may
        // go through one), so that is the path its processes are found by.
        string realDataDirectory;
        try
        {
            realDataDirectory = Path.Join(RealPath.Of(root), "data");
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }

        // From here on the watchdog owns the directory: whatever fails below, it is removed.
        var cluster = new PostgresCluster(root, realDataDirectory, UnclaimedPort.Pick(), binDirectory, StartWatchdog(root, realDataDirectory));
        try
        {
            if (ServiceUserProcess.RunsAsRoot)
            {
                await ServiceUserProcess.RunAsync("chown", [ServiceUserProcess.ServiceUser + ":", root], CommandTimeout, cancellationToken, asServiceUser: false);
            }

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
            $"Host={Host};Port={Port};Username={Username};Database={database};Timeout=15;Command Timeout=60");

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (IsRunning)
        {
            return;
        }

        try
        {
            await ServiceUserProcess.RunAsync(
                Tool("pg_ctl"),
                ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-s", "start"],
                CommandTimeout,
                cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // The log goes with the directory on dispose: its end is quoted here, on one line.
            var log = File.Exists(LogFile) ? string.Join(" | ", File.ReadLines(LogFile).TakeLast(10)) : "no log";
            throw new InvalidOperationException($"PostgreSQL did not start on {Host}:{Port}: {ex.Message} (the end of its log: {log})", ex);
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

        await ServiceUserProcess.RunAsync(Tool("pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "-s", "stop"], CommandTimeout, cancellationToken);
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
        var processes = ProcessesIn(_realDataDirectory, postmaster);
        if (processes.Count == 0 && postmaster is not null && IsLive(postmaster.Value) && IsPostgres(postmaster.Value))
        {
            // The lock file names a live server that /proc does not show in the data directory: rather
            // than leave it running, PostgreSQL's own immediate stop ends it and waits for its processes.
            await ServiceUserProcess.RunAsync(Tool("pg_ctl"), ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "60", "-s", "stop"], CommandTimeout, cancellationToken);
        }

        for (; processes.Count > 0; processes = ProcessesIn(_realDataDirectory, postmaster))
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
        if (!Directory.Exists(DataDirectory))
        {
            // initdb never got that far: there is no server and no lock file.
            return;
        }

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
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            // Everything is thrown away, so there is nothing to checkpoint: a kill is the quickest stop.
            await KillAsync(CancellationToken.None);
        }
        finally
        {
            // Closing the pipe lets the watchdog remove the directory; it is the same path as a crash of this process.
            _watchdog.StandardInput.Close();
            _watchdog.Dispose();
            await WaitUntilRemovedAsync();
        }
    }

    /// <summary>
    /// Waits for the watchdog (a process of its own session, not a child to wait for) to remove the
    /// directory, and removes it here if that does not happen: the server is gone by now.
    /// </summary>
    private async Task WaitUntilRemovedAsync()
    {
        var deadline = DateTime.UtcNow + WatchdogGrace;
        while (Directory.Exists(RootDirectory) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // Never under a server that is still running (the kill above failed): its working directory
        // would turn into "... (deleted)", which nothing could find it by any more.
        if (!Directory.Exists(RootDirectory) || ProcessesIn(_realDataDirectory, null).Count > 0)
        {
            return;
        }

        try
        {
            Directory.Delete(RootDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Removed by the watchdog meanwhile, or not ours to remove: disposing does not fail for it.
        }
    }

    private string Tool(string name) => Path.Combine(_binDirectory, name);

    private async Task InitializeDataDirectoryAsync(CancellationToken cancellationToken)
    {
        await ServiceUserProcess.RunAsync(
            Tool("initdb"),
            ["-D", DataDirectory, "-U", Username, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            CommandTimeout,
            cancellationToken);

        // fsync off: nobody keeps this cluster past an OS crash. synchronous_commit stays on, so a
        // commit is in the WAL before it returns and survives KillAsync, as in production.
        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# VirtualKeys.LocalPostgres: a throwaway cluster, speed over durability against OS crashes")
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

    /// <summary>Live (not zombie) processes whose working directory is <paramref name="directory"/> (a real path), the postmaster first.</summary>
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
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (IsLive(pid))
            {
                found.Add(pid);
            }
        }

        // The postmaster goes first, so it forks nothing new while its children are killed.
        return [.. found.OrderBy(pid => pid == postmaster ? 0 : 1)];
    }

    /// <summary>Whether the process is a PostgreSQL server's (a stale lock file may name a pid taken by another program since).</summary>
    private static bool IsPostgres(int pid)
    {
        try
        {
            return File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/comm")).TrimEnd() is "postgres" or "postmaster";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Whether a process with this pid exists and is not a zombie (one that has exited but is not reaped).</summary>
    private static bool IsLive(int pid)
    {
        try
        {
            // "pid (comm) state ...": the state follows the last ')'.
            var stat = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/stat"));
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string CreateRootDirectory(string prefix)
    {
        var root = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return root;
    }

    private static Process StartWatchdog(string root, string realDataDirectory)
    {
        // Reads until this process closes the pipe (or dies), then kills every process working in the
        // data directory ($2, its real path, as readlink shows a working directory) and removes the directory.
        // It ignores the signals a terminal's Ctrl+C or a hang-up sends the whole foreground process
        // group, and runs in a session of its own (setsid -f: not a child of this process either), so
        // that a kill of this process's group or tree does not take it along and leave the server running.
        const string Script =
            """
            trap '' INT TERM HUP
            cat >/dev/null
            while :; do
                killed=
                for proc in /proc/[0-9]*; do
                    if [ "$(readlink "$proc/cwd" 2>/dev/null)" = "$2" ]; then kill -9 "${proc#/proc/}" 2>/dev/null && killed=1; fi
                done
                [ -z "$killed" ] && break
                sleep 0.2
            done
            rm -rf -- "$1"
            """;
        string[] shell = ["-c", Script, "vk-postgres-watchdog", root, realDataDirectory];
        try
        {
            if (new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists) is { } setsid)
            {
                // util-linux's setsid forks the shell off and exits at once; one without -f (busybox)
                // exits with an error and starts nothing, and the watchdog is then a plain child.
                var detached = Start(setsid, ["-f", "/bin/sh", .. shell]);
                if (!detached.WaitForExit(TimeSpan.FromSeconds(10)) || detached.ExitCode == 0)
                {
                    return detached;
                }

                detached.Dispose();
            }

            return Start("/bin/sh", shell);
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }

        static Process Start(string program, string[] arguments)
        {
            var start = new ProcessStartInfo(program)
            {
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            return Process.Start(start) ?? throw new InvalidOperationException("the PostgreSQL clean-up watchdog did not start");
        }
    }
}
