using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using k8s;
using Npgsql;
using VirtualKeys.LocalCluster;
using VirtualKeys.Model;
using VirtualKeys.Model.Crd;
using VirtualKeys.Operator.Benchmarks;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

// The operator at issue #4's scale: 10,000 VirtualKeys on the local API server with a real
// PostgreSQL registry and the real operator binary in its own process. Progress lines while it
// runs; the last line is one JSON object with the figures (see README.md beside this file).
BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"{e.Message}\nusage: {BenchmarkOptions.Usage}");
    return 2;
}

using var cancel = new CancellationTokenSource(options.Timeout);
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
var ct = cancel.Token;
var clock = Stopwatch.StartNew();
var work = Directory.CreateTempSubdirectory("vk-operator-bench-");
PostgresCluster? postgres = null;
LocalApiServer? server = null;
OperatorProcess? operatorProcess = null;
KeyStatusWatch? statusWatch = null;

// What is known so far: printed as the last line even when the run is stopped early.
var figures = new Dictionary<string, object?> { ["keys"] = options.Keys };
try
{
    Say($"{options.Keys} keys in {options.Namespaces} namespaces sharing {options.Secrets} provider Secrets; operator workers {options.Workers}, resync {options.Resync.TotalSeconds:F0}s");
    postgres = await PostgresCluster.StartNewAsync(cancellationToken: ct);
    await using (var admin = new NpgsqlConnection(postgres.GetConnectionString()))
    {
        await admin.OpenAsync(ct);
        await using var create = new NpgsqlCommand("CREATE DATABASE registry", admin);
        await create.ExecuteNonQueryAsync(ct);
    }

    var registryConnection = postgres.GetConnectionString("registry");
    Say($"PostgreSQL 15 on 127.0.0.1:{postgres.Port}");

    // A bearer token, as a real cluster asks for one (the C# client refuses a kubeconfig user without credentials).
    var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BearerToken = token }, ct);
    using var client = new Kubernetes(server.CreateClientConfiguration());
    await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(CrdGenerator.Generate(typeof(VirtualKey)), cancellationToken: ct);
    var kubeconfig = Path.Combine(work.FullName, "kubeconfig");
    server.WriteKubeconfig(kubeconfig);
    var kek = Path.Combine(work.FullName, "kek");
    KeyEncryptionKey.WriteNewFile(kek);
    Say($"local API server on {server.BaseAddress}");

    var workload = new Workload(client, options);
    await workload.CreateNamespacesAndSecretsAsync(ct);
    Say($"created {options.Namespaces} namespaces and {options.Secrets} provider Secrets");

    operatorProcess = await OperatorProcess.StartAsync(
        new Dictionary<string, string>
        {
            ["Registry__ConnectionString"] = registryConnection,
            ["Registry__KekFile"] = kek,
            ["Kubernetes__Kubeconfig"] = kubeconfig,
            ["Operator__Workers"] = options.Workers.ToString(CultureInfo.InvariantCulture),
            ["Operator__ResyncInterval"] = options.Resync.ToString("c", CultureInfo.InvariantCulture),
            ["LeaderElection__Enabled"] = "true",
            ["LeaderElection__LeaseNamespace"] = "default",
            ["LeaderElection__Identity"] = "operator-benchmark",
            ["Logging__LogLevel__Default"] = "Warning",
        },
        Path.Combine(work.FullName, "operator.log"),
        ct);
    while (!await operatorProcess.IsReadyAsync(ct) || (await operatorProcess.ScrapeAsync(ct)).Sum("vk_leader_election_is_leader") < 1)
    {
        if (operatorProcess.HasExited)
        {
            throw new InvalidOperationException($"the operator exited during start-up:\n{operatorProcess.LogTail(20)}");
        }

        await Task.Delay(100, ct);
    }

    Say($"operator (pid {operatorProcess.Pid}) ready and leading after {clock.Elapsed.TotalSeconds:F1}s; rss {operatorProcess.Memory().Current:F0} MiB");

    // Phase 1: create every key while the operator runs; all Ready is the clock's end.
    await using var watch = KeyStatusWatch.Start(server.BaseAddress, token);
    statusWatch = watch;
    var beforeCreate = server.Requests.Snapshot();
    var workloadWritesBefore = workload.Writes;
    var pgBeforeCreate = await PostgresWrites.ReadAsync(registryConnection, ct);
    var cpuBeforeCreate = operatorProcess.CpuTime();
    var startTick = Environment.TickCount64;
    var creating = workload.CreateKeysAsync(ct);
    var lockSamples = new List<int>();
    var loadAtStart = LoadAverage();
    double? createSeconds = null;
    while (watch.Ready < options.Keys)
    {
        if (!creating.IsCompleted)
        {
            await Task.WhenAny(creating, Task.Delay(TimeSpan.FromSeconds(1), ct));
        }
        else
        {
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }

        ct.ThrowIfCancellationRequested();
        if (creating.IsCompleted)
        {
            await creating;
            createSeconds ??= (Environment.TickCount64 - startTick) / 1000.0;
        }

        var sessions = await PostgresWrites.SessionsAsync(registryConnection, ct);
        lockSamples.Add(sessions.WaitingOnLock);
        await ProgressAsync($"created {workload.Uids.Count}/{options.Keys}, ready {watch.Ready}, registry sessions active {sessions.Active} (waiting on a lock {sessions.WaitingOnLock})");
    }

    var secondsToAllReady = (watch.LastReadyTick - startTick) / 1000.0;
    var loadAtReady = LoadAverage();
    var createCpu = operatorProcess.CpuTime() - cpuBeforeCreate;
    var atReady = await operatorProcess.ScrapeAsync(ct);
    Say($"all {options.Keys} keys Ready {secondsToAllReady:F1}s after the first create (creates took {createSeconds ?? secondsToAllReady:F1}s)");
    figures["seconds_to_all_ready"] = Math.Round(secondsToAllReady, 2);

    // Settle: let late writes land and PostgreSQL publish its counters before the idle window opens.
    await WaitAsync(PostgresWrites.FlushDelay, "settling");
    var idleStart = server.Requests.Snapshot();
    var pgIdleStart = await PostgresWrites.ReadAsync(registryConnection, ct);
    var metricsIdleStart = await operatorProcess.ScrapeAsync(ct);
    var creation = OperatorWrites(beforeCreate, idleStart, workload.Writes - workloadWritesBefore);
    var creationWrites = creation.Values.Sum();
    Say($"operator API writes to reach Ready: {creationWrites} ({(double)creationWrites / options.Keys:F2} per key): {Describe(creation)}");

    // Phase 2: nothing changes; one full periodic resync of every key must write nothing anywhere.
    var addsAtIdle = metricsIdleStart.Sum("vk_workqueue_adds_total", "queue=\"virtualkey\"");
    var reconcilesAtIdle = metricsIdleStart.Sum("vk_controller_reconcile_total", "controller=\"virtualkey\"");
    long resyncStartTick = 0;
    while (true)
    {
        await Task.Delay(250, ct);
        var now = await operatorProcess.ScrapeAsync(ct);
        var adds = now.Sum("vk_workqueue_adds_total", "queue=\"virtualkey\"") - addsAtIdle;
        var done = now.Sum("vk_controller_reconcile_total", "controller=\"virtualkey\"") - reconcilesAtIdle;
        if (resyncStartTick == 0 && adds > 0)
        {
            resyncStartTick = Environment.TickCount64;
        }

        if (adds >= options.Keys && done >= options.Keys
            && now.Sum("vk_workqueue_depth", "queue=\"virtualkey\"") == 0
            && now.Sum("vk_controller_reconciles_in_flight", "controller=\"virtualkey\"") == 0)
        {
            break;
        }

        await ProgressAsync(resyncStartTick == 0 ? "idle, waiting for the periodic resync" : $"resync: {done:F0}/{options.Keys} reconciled");
    }

    var resyncSeconds = (Environment.TickCount64 - resyncStartTick) / 1000.0;
    var resyncReconciles = (await operatorProcess.ScrapeAsync(ct)).Sum("vk_controller_reconcile_total", "controller=\"virtualkey\"") - reconcilesAtIdle;
    Say($"resync reconciled {resyncReconciles:F0} keys in about {resyncSeconds:F1}s");
    await WaitAsync(PostgresWrites.FlushDelay, "waiting for PostgreSQL's statistics");
    var idleEnd = server.Requests.Snapshot();
    var pgIdleEnd = await PostgresWrites.ReadAsync(registryConnection, ct);
    var idle = OperatorWrites(idleStart, idleEnd, 0);
    var idleApiWrites = idle.Values.Sum();
    var idlePgRows = pgIdleEnd.Rows - pgIdleStart.Rows;
    Say($"idle window with one full resync: {idleApiWrites} API writes {Describe(idle)}, {idlePgRows} PostgreSQL row writes, {pgIdleEnd.Commits - pgIdleStart.Commits - 1} transactions");

    // Phase 3: usage for some keys, as the sidecar records it; the syncer copies it onto their status.
    var usageNames = workload.Uids.Keys.Order(StringComparer.Ordinal).Take(options.UsageKeys).ToList();
    double usageSeconds;
    Dictionary<string, long> usage;
    await using (var registry = await VirtualKeyRegistry.OpenAsync(registryConnection, kek, null, null, ct))
    {
        var beforeUsage = server.Requests.Snapshot();
        var usageTick = Environment.TickCount64;
        await workload.RecordUsageAsync(registry, usageNames, requests: 3, ct);
        while (watch.WithRequests(usageNames, 3) < usageNames.Count)
        {
            await Task.Delay(250, ct);
            await ProgressAsync($"usage on status: {watch.WithRequests(usageNames, 3)}/{usageNames.Count}");
        }

        usageSeconds = (Environment.TickCount64 - usageTick) / 1000.0;
        await WaitAsync(TimeSpan.FromSeconds(3), "letting the usage syncer settle");
        usage = OperatorWrites(beforeUsage, server.Requests.Snapshot(), 0);
    }

    Say($"usage of {usageNames.Count} keys on their status after {usageSeconds:F1}s with {usage.Values.Sum()} API writes {Describe(usage)}");

    var final = server.Requests.Snapshot();
    var (_, peak) = operatorProcess.Memory();
    var cpu = operatorProcess.CpuTime();
    var relists = Get(final, "list", "virtualkeys") + Get(final, "list", "secrets") - watch.Lists - 2;
    var errors = atReady.Sum("vk_controller_reconcile_total", "controller=\"virtualkey\"", "result=\"error\"");
    var warnings = File.Exists(operatorProcess.LogFile) ? File.ReadLines(operatorProcess.LogFile).Count() : 0;
    var results = new Dictionary<string, object>
    {
        ["provider_secrets"] = options.Secrets,
        ["namespaces"] = options.Namespaces,
        ["operator_workers"] = options.Workers,
        ["seconds_to_all_ready"] = Math.Round(secondsToAllReady, 2),
        ["create_seconds"] = Math.Round(createSeconds ?? secondsToAllReady, 2),
        ["keys_ready_per_second"] = Math.Round(options.Keys / secondsToAllReady, 1),
        ["api_writes_per_key"] = Math.Round((double)creationWrites / options.Keys, 3),
        ["api_writes_to_ready"] = creation.ToDictionary(w => w.Key, w => w.Value),
        ["reconciles_to_ready"] = atReady.Sum("vk_controller_reconcile_total", "controller=\"virtualkey\""),
        ["reconcile_errors_to_ready"] = errors,
        ["pg_row_writes_to_ready"] = pgIdleStart.Rows - pgBeforeCreate.Rows,
        ["operator_cpu_seconds_to_ready"] = Math.Round(createCpu.TotalSeconds, 1),
        ["registry_sessions_waiting_on_lock_to_ready"] = lockSamples.Count == 0 ? 0 : Math.Round(lockSamples.Average(), 1),
        ["machine_load_average_1m"] = new[] { loadAtStart, loadAtReady },
        ["idle_resync_api_writes"] = idleApiWrites,
        ["idle_resync_pg_writes"] = idlePgRows,
        ["idle_resync_reconciles"] = resyncReconciles,
        ["idle_resync_seconds"] = Math.Round(resyncSeconds, 2),
        ["usage_keys"] = usageNames.Count,
        ["usage_sync_api_writes"] = usage.Values.Sum(),
        ["usage_sync_seconds"] = Math.Round(usageSeconds, 2),
        ["informer_relists"] = relists,
        ["peak_rss_mb"] = Math.Round(peak, 1),
        ["operator_cpu_seconds"] = Math.Round(cpu.TotalSeconds, 1),
        ["operator_log_lines"] = warnings,
        ["total_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
        ["goals_met"] = new Dictionary<string, bool>
        {
            ["seconds_to_all_ready_under_60"] = secondsToAllReady < 60,
            ["api_writes_per_key_at_most_3"] = (double)creationWrites / options.Keys <= 3,
            ["idle_resync_api_writes_zero"] = idleApiWrites == 0,
            ["idle_resync_pg_writes_zero"] = idlePgRows == 0,
        },
    };
    foreach (var (name, value) in results)
    {
        figures[name] = value;
    }

    Console.WriteLine(JsonSerializer.Serialize(figures));
    return 0;
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync($"stopped after {clock.Elapsed.TotalSeconds:F0}s ({(clock.Elapsed >= options.Timeout ? "time limit" : "interrupted")}); cleaning up");
    if (operatorProcess is not null && !operatorProcess.HasExited)
    {
        await Console.Error.WriteLineAsync("operator log tail:\n" + operatorProcess.LogTail(10));
        figures["peak_rss_mb"] = Math.Round(operatorProcess.Memory().Peak, 1);
    }

    figures["keys_ready"] = statusWatch?.Ready;
    figures["stopped_early"] = clock.Elapsed >= options.Timeout ? "time limit" : "interrupted";
    figures["total_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
    Console.WriteLine(JsonSerializer.Serialize(figures));
    return 1;
}
finally
{
    if (operatorProcess is not null)
    {
        await operatorProcess.DisposeAsync();
    }

    if (server is not null)
    {
        await server.DisposeAsync();
    }

    if (postgres is not null)
    {
        await postgres.DisposeAsync();
    }

    work.Delete(recursive: true);
}

// Cancelling runs every registered callback (child processes, HTTP calls): off the signal's thread.
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    ThreadPool.QueueUserWorkItem(_ => cancel.Cancel());
}

void Say(string line) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1}s] {line}");

async Task ProgressAsync(string what)
{
    var metrics = await operatorProcess!.ScrapeAsync(ct);
    var (rss, _) = operatorProcess.Memory();
    Say($"{what}; queue {metrics.Sum("vk_workqueue_depth", "queue=\"virtualkey\""):F0}, reconciles {metrics.Sum("vk_controller_reconcile_total", "controller=\"virtualkey\""):F0}, operator rss {rss:F0} MiB");
}

async Task WaitAsync(TimeSpan delay, string what)
{
    var until = Environment.TickCount64 + (long)delay.TotalMilliseconds;
    while (Environment.TickCount64 < until)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, until - Environment.TickCount64)), ct);
        await ProgressAsync(what);
    }
}

// The operator's writes between two snapshots, by kind: every write but lease renewals, less the
// workload's own creates (namespaces, Secrets, VirtualKeys).
static Dictionary<string, long> OperatorWrites(IReadOnlyDictionary<ApiRequestKind, long> before, IReadOnlyDictionary<ApiRequestKind, long> after, long workloadWrites)
{
    var writes = after
        .Where(a => a.Key.IsWrite && a.Key.Resource != "leases")
        .Select(a => (Kind: a.Key, Count: a.Value - (before.TryGetValue(a.Key, out var b) ? b : 0)))
        .Where(w => w.Count > 0)
        .ToDictionary(w => w.Kind.ToString(), w => w.Count, StringComparer.Ordinal);
    var ours = workloadWrites;
    foreach (var kind in new[] { "create virtualkeys", "create secrets", "create namespaces" })
    {
        if (ours > 0 && writes.TryGetValue(kind, out var count))
        {
            var taken = Math.Min(count, ours);
            ours -= taken;
            writes[kind] = count - taken;
            if (writes[kind] == 0)
            {
                writes.Remove(kind);
            }
        }
    }

    return writes;
}

static string Describe(Dictionary<string, long> writes) =>
    writes.Count == 0 ? "(none)" : "(" + string.Join(", ", writes.OrderBy(w => w.Key, StringComparer.Ordinal).Select(w => $"{w.Key}: {w.Value}")) + ")";

// The 1-minute load average: this machine's two cores are shared, and the figures move with it.
static double LoadAverage() =>
    double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

static long Get(IReadOnlyDictionary<ApiRequestKind, long> counts, string verb, string resource) =>
    counts.TryGetValue(new ApiRequestKind(verb, resource, ""), out var n) ? n : 0;
