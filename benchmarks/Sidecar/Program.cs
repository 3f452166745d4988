using System.Globalization;
using System.Text.Json;
using Npgsql;
using VirtualKeys.MockProvider;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Sidecar.Benchmarks;
using VirtualKeys.Testing.Postgres;

// benchmarks/run sidecar: the sidecar under wrk on loopback, against a bare Kestrel endpoint and nginx,
// with 10,000 keys in a throwaway PostgreSQL registry; then the RPM limiter across three sidecars
// sharing it. Every figure comes from this one run; the last line of output is one JSON object.
// README.md next to this file says what each figure means and how it is measured.
const int KeyCount = 10_000;
const int LimitedRequestsPerMinute = 600;
const int LimiterSidecars = 3;
const string RegistryDatabase = "vk_bench";

// Not a real provider key: the mock upstream expects exactly this, so a request that arrives with the
// virtual-key token instead is refused and shows up as a failure.
const string UpstreamCredential = "sk-bench-upstream-not-a-real-key-0001";
const int WrkThreads = 2;
const int WrkConnections = 64;
var warmUp = TimeSpan.FromSeconds(3);

// Before the first figure: long enough for the JIT to finish tiering the hot paths up, so the runs
// measure the sidecar as it serves for hours, not while it is still compiling.
var firstWarmUp = TimeSpan.FromSeconds(10);
var measure = TimeSpan.FromSeconds(10);

// Options for looking into a figure, never for the published ones: --skip-limiter ends after the
// throughput figures; --sidecar-setting Name=Value (repeatable) passes an environment variable to the
// throughput sidecar, e.g. DOTNET_gcServer=0, to measure with and without a piece.
var skipLimiter = args.Contains("--skip-limiter");
var sidecarSettings = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--sidecar-setting" && i + 1 < args.Length && args[i + 1].Split('=', 2) is [{ Length: > 0 } name, var value])
    {
        sidecarSettings[name] = value;
        i++;
    }
    else if (args[i] != "--skip-limiter")
    {
        await Console.Error.WriteLineAsync($"benchmarks/run sidecar: unknown argument '{args[i]}' (known: --skip-limiter, --sidecar-setting Name=Value)");
        return 2;
    }
}

using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(11));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Progress.Line("interrupted: stopping every process and removing the temp directory");
    cancel.Cancel();
};
var ct = cancel.Token;

if (Tools.Find("wrk") is null)
{
    await Console.Error.WriteLineAsync("benchmarks/run sidecar: wrk is not on PATH; install it with: apt-get install wrk");
    return 2;
}

if (Tools.Find("nginx", "/usr/sbin") is null)
{
    await Console.Error.WriteLineAsync("benchmarks/run sidecar: nginx is not installed; install it with: apt-get install nginx-light");
    return 2;
}

// What the limiter's sidecars say they run, not what they were asked for.
string? quotaModes = null;
var runDirectory = Path.Combine(Path.GetTempPath(), "vk-sidecar-bench-" + Guid.NewGuid().ToString("N")[..10]);
Directory.CreateDirectory(runDirectory);
File.SetUnixFileMode(runDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
using var reaper = ProcessReaper.Start(runDirectory);
try
{
    return await RunAsync();
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("benchmarks/run sidecar: stopped (interrupted, or over the 11-minute bound) before all figures were measured");
    return 130;
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or HttpRequestException or NpgsqlException)
{
    await Console.Error.WriteLineAsync($"benchmarks/run sidecar: {ex.Message}");
    return 1;
}

async Task<int> RunAsync()
{
    Progress.Line("starting a throwaway PostgreSQL 15 (pg_stat_statements loaded)");
    await using var postgres = await PostgresCluster.StartNewAsync(cancellationToken: ct);
    await File.AppendAllTextAsync(Path.Combine(postgres.DataDirectory, "postgresql.conf"), "shared_preload_libraries = 'pg_stat_statements'\n", ct);
    await postgres.RestartAsync(ct);
    var maintenance = postgres.GetConnectionString();
    await ExecuteAsync(maintenance, $"CREATE DATABASE {RegistryDatabase}");
    await ExecuteAsync(maintenance, "CREATE EXTENSION pg_stat_statements");
    var registryConnection = postgres.GetConnectionString(RegistryDatabase);
    var stats = new PostgresStats(maintenance, RegistryDatabase);

    await using var upstream = await MockLlmProvider.StartAsync(new MockLlmProviderOptions { ExpectedCredential = UpstreamCredential }, ct);
    var kekFile = Path.Combine(runDirectory, "kek");
    KeyEncryptionKey.WriteNewFile(kekFile);
    Progress.Line($"writing {KeyCount} active keys with provider credentials and tokens into the registry");
    SeededKeys keys;
    await using (var registry = await VirtualKeyRegistry.OpenAsync(registryConnection, kekFile, TimeProvider.System, null, ct))
    {
        keys = await KeySeeder.SeedAsync(registry, KeyCount, LimitedRequestsPerMinute, upstream.OpenAIBaseUrl, UpstreamCredential, ct);
    }

    await using var baseline = await BaselineServer.StartAsync(ct);
    await using var nginx = await NginxProxy.StartAsync(runDirectory, upstream.BaseAddress.Port, UpstreamCredential, reaper, ct);
    var wrk = await Wrk.CreateAsync(runDirectory, ct);
    var cpu = new CpuAccounting(postgres.DataDirectory);
    cpu.Groups[CpuAccounting.Nginx] = nginx.ProcessGroup;
    var cpuPerRequest = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
    Progress.Line($"mock upstream {upstream.BaseAddress}, Kestrel baseline {baseline.BaseAddress}, nginx {nginx.BaseAddress}");

    var loadClock = System.Diagnostics.Stopwatch.StartNew();
    await using var sidecar = SidecarProcess.Start("sidecar", registryConnection, kekFile, sidecarSettings, runDirectory, reaper);
    if (sidecarSettings.Count > 0)
    {
        Progress.Line($"sidecar settings from the command line: {string.Join(", ", sidecarSettings.Keys)}");
    }

    await sidecar.WaitReadyAsync(KeyCount, TimeSpan.FromSeconds(120), ct);
    var snapshotSeconds = loadClock.Elapsed.TotalSeconds;
    cpu.Groups[CpuAccounting.Sidecar] = sidecar.Pid;
    var rssColdBytes = sidecar.ResidentBytes();
    Progress.Line($"sidecar (pid {sidecar.Pid}) serves {KeyCount} keys {snapshotSeconds:F1}s after it started; resident {rssColdBytes / 1048576.0:F1} MiB");

    Progress.Line("warm-up: proxied chat requests over every key, then resolve calls each followed by its usage report");
    await wrk.RunAsync(new Uri(sidecar.BaseAddress, "v1/chat/completions"), "chat", keys.UnlimitedTokens, WrkThreads, WrkConnections, firstWarmUp, ct);
    await wrk.RunAsync(new Uri(sidecar.BaseAddress, "v1/resolve"), "resolve", keys.UnlimitedTokens, WrkThreads, WrkConnections, firstWarmUp, ct);
    upstream.Reset();
    await Task.Delay(TimeSpan.FromSeconds(1), ct);
    var rssBytes = sidecar.ResidentBytes();
    Progress.Line($"sidecar resident set with {KeyCount} keys after warm-up: {rssBytes / 1048576.0:F1} MiB");

    var proxy = await MeasureAsync(wrk, cpu, cpuPerRequest, "proxy", "sidecar proxy  (POST /v1/chat/completions -> mock)", new Uri(sidecar.BaseAddress, "v1/chat/completions"), "chat", keys.UnlimitedTokens);
    upstream.Reset();
    await SettleAsync(cpu);
    var nginxProxy = await MeasureAsync(wrk, cpu, cpuPerRequest, "nginx_proxy", "nginx proxy    (POST /v1/chat/completions -> mock)", new Uri(nginx.BaseAddress, "v1/chat/completions"), "chat-plain", []);
    upstream.Reset();
    var kestrel = await MeasureAsync(wrk, cpu, cpuPerRequest, "kestrel_baseline", "Kestrel baseline (the same requests, constant JSON)", new Uri(baseline.BaseAddress, "v1/resolve"), "resolve", keys.UnlimitedTokens);
    var resolve = await MeasureAsync(wrk, cpu, cpuPerRequest, "resolve", "sidecar resolve (POST /v1/resolve, then /v1/usage)", new Uri(sidecar.BaseAddress, "v1/resolve"), "resolve", keys.UnlimitedTokens);
    // Half of the full-load request rate, which is half the resolve rate: the mix stays one report per resolve.
    var (halfLoad, halfLoadTarget) = await MeasureHalfLoadAsync(wrk, "sidecar resolve", new Uri(sidecar.BaseAddress, "v1/resolve"), keys.UnlimitedTokens, resolve.SuccessPerSecond / 2);
    await SettleAsync(cpu);
    // The bare endpoint paced to the same rate: what wrk, Kestrel and this machine add to the tail anyway.
    var (kestrelHalfLoad, _) = await MeasureHalfLoadAsync(wrk, "Kestrel baseline", new Uri(baseline.BaseAddress, "v1/resolve"), keys.UnlimitedTokens, resolve.SuccessPerSecond / 2);
    var rssAfterBytes = sidecar.ResidentBytes();
    Progress.Line($"sidecar resident set after all loads: {rssAfterBytes / 1048576.0:F1} MiB");
    await sidecar.StopAsync();

    var limiter = skipLimiter
        ? new LimiterFigures(double.NaN, double.NaN, [], 0, null, null, null, null)
        : await MeasureLimiterAsync(registryConnection, kekFile, keys, stats);

    var figures = new Dictionary<string, object?>
    {
        ["resolve_rps"] = Math.Round(resolve.ResolvesPerSecond, 0),
        ["kestrel_baseline_rps"] = Math.Round(kestrel.ResolvesPerSecond, 0),
        ["resolve_ratio"] = Down(resolve.ResolvesPerSecond / kestrel.ResolvesPerSecond, 4),
        ["resolve_p99_ms_at_half_load"] = Math.Round(halfLoad.P99Us / 1000.0, 3),
        ["proxy_rps"] = Math.Round(proxy.SuccessPerSecond, 0),
        ["nginx_proxy_rps"] = Math.Round(nginxProxy.SuccessPerSecond, 0),
        ["proxy_ratio"] = Down(proxy.SuccessPerSecond / nginxProxy.SuccessPerSecond, 4),
        ["limiter_accuracy_min"] = skipLimiter ? null : Down(limiter.AccuracyMin, 4),
        ["limiter_accuracy_max"] = skipLimiter ? null : Up(limiter.AccuracyMax, 4),
        ["pg_roundtrips_per_1000_admitted"] = limiter.RoundTripsPer1000Admitted is { } trips ? Up(trips, 2) : null,
        ["rss_mb_10k_keys"] = Up(rssBytes / 1048576.0, 2),
        ["resolve_half_load_target_rps"] = Math.Round(halfLoadTarget / 2, 0),
        ["resolve_half_load_rps"] = Math.Round(halfLoad.ResolvesPerSecond, 0),
        ["resolve_p50_ms_at_half_load"] = Math.Round(halfLoad.P50Us / 1000.0, 3),
        ["resolve_p99_ms_at_full_load"] = Math.Round(resolve.P99Us / 1000.0, 3),
        ["kestrel_baseline_p99_ms_at_full_load"] = Math.Round(kestrel.P99Us / 1000.0, 3),
        ["kestrel_baseline_p99_ms_at_half_load"] = Math.Round(kestrelHalfLoad.P99Us / 1000.0, 3),
        ["proxy_p99_ms"] = Math.Round(proxy.P99Us / 1000.0, 3),
        ["nginx_proxy_p99_ms"] = Math.Round(nginxProxy.P99Us / 1000.0, 3),
        ["cpu_us_per_request"] = cpuPerRequest,
        ["failed_requests"] = proxy.Failures + nginxProxy.Failures + kestrel.Failures + resolve.Failures + halfLoad.Failures + kestrelHalfLoad.Failures,
        ["limiter_admitted_per_window"] = limiter.AdmittedPerWindow,
        ["limiter_admitted_total"] = limiter.Admitted,
        ["limiter_quota_mode"] = quotaModes,
        ["limiter_sidecars"] = LimiterSidecars,
        ["pg_roundtrips_per_1000_admitted_without_usage_writes"] = Round(limiter.AdmissionRoundTripsPer1000Admitted, 1),
        ["pg_transactions_per_1000_admitted"] = Round(limiter.TransactionsPer1000Admitted, 1),
        ["pg_statements_per_1000_admitted"] = Round(limiter.StatementsPer1000Admitted, 1),
        ["rss_mb_10k_keys_before_warm_up"] = Math.Round(rssColdBytes / 1048576.0, 1),
        ["rss_mb_after_load"] = Math.Round(rssAfterBytes / 1048576.0, 1),
        ["snapshot_load_seconds"] = Math.Round(snapshotSeconds, 1),
        ["keys"] = KeyCount,
        ["cores"] = Environment.ProcessorCount,
    };
    // Each goal is judged on the figure as measured. The figures above are printed rounded towards
    // missing their goals, so one that reads as met is met (a resolve_ratio of 0.59953 rounded to three
    // places would have read 0.6 beside a missed goal).
    var resolveRatio = resolve.ResolvesPerSecond / kestrel.ResolvesPerSecond;
    var proxyRatio = proxy.SuccessPerSecond / nginxProxy.SuccessPerSecond;
    figures["goals_met"] = new Dictionary<string, bool>
    {
        ["resolve_ratio"] = resolveRatio >= 0.6,
        ["resolve_p99_ms_at_half_load"] = halfLoad.P99Us <= 2000,
        ["proxy_ratio"] = proxyRatio >= 0.5,
        ["limiter_accuracy"] = limiter.AccuracyMin >= 0.98 && limiter.AccuracyMax <= 1.0,
        ["pg_roundtrips_per_1000_admitted"] = limiter.RoundTripsPer1000Admitted <= 50,
        ["rss_mb_10k_keys"] = rssBytes <= 150L * 1024 * 1024,
    };
    Progress.Line("done; stopping nginx, the mock upstream and PostgreSQL");
    Console.WriteLine(JsonSerializer.Serialize(figures));
    return 0;
}

async Task<WrkResult> MeasureAsync(
    Wrk wrk, CpuAccounting cpu, Dictionary<string, Dictionary<string, double>> cpuPerRequest, string phase, string label, Uri url, string kind, IReadOnlyList<string> tokens)
{
    Progress.Line($"{label}: {warmUp.TotalSeconds:0}s warm-up, then {measure.TotalSeconds:0}s with wrk -t{WrkThreads} -c{WrkConnections}");
    await wrk.RunAsync(url, kind, tokens, WrkThreads, WrkConnections, warmUp, ct);
    var before = cpu.Sample();
    var result = await wrk.RunAsync(url, kind, tokens, WrkThreads, WrkConnections, measure, ct);
    var used = CpuAccounting.Between(before, cpu.Sample());
    Progress.Line($"  {result}");
    Progress.Line($"  {CpuAccounting.Describe(used, result.DurationUs / 1e6)}");
    cpuPerRequest[phase] = used.Where(p => p.Key != CpuAccounting.Machine)
        .ToDictionary(p => p.Key, p => Math.Round(p.Value * 1e6 / Math.Max(1, result.Requests), 1), StringComparer.Ordinal);
    return result;
}

// The sidecar writes its usage after the requests (a batch per 200 records, the rest within its 10 s
// flush interval, and now and then a fold of the registry's pending usage): work of the sidecar's run
// that would otherwise land in the next target's. Before a reference is measured, wait out the flush
// interval and then until PostgreSQL is idle (under 5% of a core for a whole second), at most 30 s.
// (The gauge of the sidecar's usage buffer would not do: it also counts the decisions wrk resolved and
// never reported when it stopped, which wait for their TTL.)
async Task SettleAsync(CpuAccounting cpu)
{
    var started = DateTime.UtcNow;
    await Task.Delay(TimeSpan.FromSeconds(11), ct);
    var quiet = 0;
    while (quiet < 2 && DateTime.UtcNow - started < TimeSpan.FromSeconds(30))
    {
        var before = cpu.Sample();
        await Task.Delay(500, ct);
        quiet = CpuAccounting.Between(before, cpu.Sample())[CpuAccounting.Postgres] < 0.025 ? quiet + 1 : 0;
    }

    Progress.Line($"  settled: the sidecar's usage written and PostgreSQL idle after {(DateTime.UtcNow - started).TotalSeconds:F1}s");
}

// wrk 4 has no fixed-rate mode (that is wrk2), so half load is paced: every connection waits a fixed
// delay (wrk's delay() hook) before each request, and the number of connections is chosen so that the
// achieved rate is half the full-load rate. Up to three 2-second calibration runs correct for the
// response time; the rate reached is reported next to the latency.
async Task<(WrkResult Result, double Target)> MeasureHalfLoadAsync(Wrk wrk, string label, Uri url, IReadOnlyList<string> tokens, double target)
{
    const int DelayMs = 10;
    var connections = Math.Max(1, (int)Math.Round(target * DelayMs / 1000));
    Progress.Line($"{label} at half load ({target:F0} req/s, resolves and reports): calibrating connections that each pause {DelayMs} ms between requests");
    for (var round = 0; round < 3; round++)
    {
        var calibration = await wrk.RunAsync(url, "resolve", tokens, Math.Min(WrkThreads, connections), connections, TimeSpan.FromSeconds(2), ct, DelayMs);
        var reached = Math.Max(1, calibration.SuccessPerSecond);
        Progress.Line($"  {connections} connections reached {reached:F0} req/s");
        if (Math.Abs(reached - target) / target < 0.1)
        {
            break;
        }

        connections = Math.Max(1, (int)Math.Round(connections * target / reached));
    }

    Progress.Line($"  measuring {measure.TotalSeconds:0}s with {connections} connections");
    var result = await wrk.RunAsync(url, "resolve", tokens, Math.Min(WrkThreads, connections), connections, measure, ct, DelayMs);
    Progress.Line($"  {result}");
    return (result, target);
}

async Task<LimiterFigures> MeasureLimiterAsync(string registryConnection, string kekFile, SeededKeys keys, PostgresStats stats)
{
    Progress.Line($"limiter: starting {LimiterSidecars} sidecars with Quota__Mode=Shared on the same registry");
    var shared = new List<SidecarProcess>();
    try
    {
        for (var i = 0; i < LimiterSidecars; i++)
        {
            shared.Add(SidecarProcess.Start(
                "sidecar-shared-" + (i + 1).ToString(CultureInfo.InvariantCulture),
                registryConnection,
                kekFile,
                new Dictionary<string, string> { ["Quota__Mode"] = "Shared" },
                runDirectory,
                reaper));
        }

        await Task.WhenAll(shared.Select(s => s.WaitReadyAsync(KeyCount, TimeSpan.FromSeconds(120), ct)));
        quotaModes = string.Join(",", shared.Select(s => s.QuotaMode ?? "unreported").Distinct());
        Progress.Line($"limiter: the sidecars report quota mode {quotaModes} on /readyz");

        // Transactions of the start-up reach pg_stat_database when the backends flush their counters,
        // within about 10 s of going idle; waiting that long keeps them out of the load's delta. (The
        // shared quota's heartbeats never let the count stand still, so waiting for that is no option.)
        await Task.Delay(TimeSpan.FromSeconds(11), ct);
        var before = await stats.TransactionsAsync(ct);
        await stats.ResetStatementsAsync(ct);
        var start = DateTime.UtcNow;
        var firstWindow = new DateTime(start.Ticks - (start.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc).AddMinutes(1);
        var end = firstWindow.AddMinutes(2).AddSeconds(0.5);
        Progress.Line(
            $"limiter: {LimiterSidecars} x 50 req/s on the {LimitedRequestsPerMinute} RPM key (about {LimiterSidecars * 50 * 60 / LimitedRequestsPerMinute}x its limit) "
            + $"until {end:HH:mm:ss} UTC; full windows {firstWindow:HH:mm}-{firstWindow.AddMinutes(2):HH:mm}");
        var load = new LimiterLoad([.. shared.Select(s => s.BaseAddress)], keys.LimitedToken, requestsPerSecondPerSidecar: 50, loopsPerSidecar: 4);
        var running = load.RunAsync(end, ct);
        while (!running.IsCompleted)
        {
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(20), ct));
            if (!running.IsCompleted)
            {
                Progress.Line($"  limiter: {load.TotalAdmitted} admitted so far, {(end - DateTime.UtcNow).TotalSeconds:F0}s to go");
            }
        }

        await running;

        // Stopping the sidecars flushes their usage buffers, and exiting backends flush their counters.
        await Task.WhenAll(shared.Select(s => s.StopAsync()));
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var transactions = await stats.TransactionsAsync(ct) - before;
        var statements = await stats.StatementsAsync(ct);
        var roundTrips = await stats.RoundTripsAsync(ct);
        var usageRoundTrips = await stats.UsageRoundTripsAsync(ct);
        Progress.Line("  most frequent statements, then the most frequent besides usage recording and BEGIN/COMMIT/DISCARD ALL:");
        foreach (var withoutUsage in new[] { false, true })
        {
            foreach (var (calls, query) in await stats.TopStatementsAsync(5, withoutUsage, ct))
            {
                Progress.Line($"  {calls,7} x {(query.Length > 110 ? query[..110] + "..." : query)}");
            }
        }

        var windows = load.Minutes.Where(m => m.Minute >= firstWindow && m.Minute < firstWindow.AddMinutes(2)).ToList();
        foreach (var (minute, admitted, refused) in load.Minutes)
        {
            var full = minute >= firstWindow && minute < firstWindow.AddMinutes(2) ? "full window" : "partial";
            Progress.Line($"  {minute:HH:mm} UTC ({full}): {admitted} admitted, {refused} refused with 429");
        }

        if (windows.Count != 2)
        {
            throw new InvalidOperationException($"the limiter load did not cover two full UTC minutes ({windows.Count} seen)");
        }

        var admittedTotal = load.TotalAdmitted;
        Progress.Line(
            $"  {admittedTotal} admitted in all ({load.Straddling} straddled a minute boundary, {load.OtherFailures} other failures); "
            + $"PostgreSQL: {roundTrips} round trips ({usageRoundTrips} of them recording usage), {transactions} transactions, {statements} statements");
        return new LimiterFigures(
            windows.Min(w => w.Admitted) / (double)LimitedRequestsPerMinute,
            windows.Max(w => w.Admitted) / (double)LimitedRequestsPerMinute,
            [.. windows.Select(w => w.Admitted)],
            admittedTotal,
            admittedTotal == 0 ? null : roundTrips / (admittedTotal / 1000.0),
            admittedTotal == 0 ? null : (roundTrips - usageRoundTrips) / (admittedTotal / 1000.0),
            admittedTotal == 0 ? null : transactions / (admittedTotal / 1000.0),
            admittedTotal == 0 ? null : statements / (admittedTotal / 1000.0));
    }
    finally
    {
        foreach (var sidecar in shared)
        {
            await sidecar.DisposeAsync();
        }
    }
}

static double? Round(double? value, int digits) => value is { } v ? Math.Round(v, digits) : null;

static double Down(double value, int digits) => Math.Floor(value * Math.Pow(10, digits)) / Math.Pow(10, digits);

static double Up(double value, int digits) => Math.Ceiling(value * Math.Pow(10, digits)) / Math.Pow(10, digits);

async Task ExecuteAsync(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync(ct);
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync(ct);
}
