using System.Text.Json;
using System.Text.RegularExpressions;
using VirtualKeys.Cli.Tests.Support;

namespace VirtualKeys.Cli.Tests.Commands;

public partial class DemoCommandTests
{
    [Fact]
    public async Task The_demo_uses_the_default_model_rate_limits_past_the_RPM_and_the_operator_reports_usage_and_cost()
    {
        using var folder = new TemporaryDirectory();
        await using var vk = VkProcess.Start(folder.Path, "demo", "--json");

        var exitCode = await vk.WaitForExitAsync(TimeSpan.FromMinutes(4));

        var progress = vk.Stderr;
        AssertCleanedUp(progress);
        Assert.Contains("Waiting for virtualkey default/quickstart to be Ready", progress, StringComparison.Ordinal);
        Assert.Contains("Ready=True (Reconciled)", progress, StringComparison.Ordinal);
        Assert.Contains("secret default/quickstart-token, key token", progress, StringComparison.Ordinal);
        Assert.True(exitCode == 0, $"vk demo exited {exitCode}:\n{progress}");
        var summary = JsonDocument.Parse(vk.Stdout.TrimEnd().Split('\n')[^1]).RootElement;
        var succeeded = summary.GetProperty("succeeded").GetInt32();
        var defaultModel = summary.GetProperty("default_model").GetString();
        Assert.True(summary.GetProperty("ready").GetBoolean());
        Assert.Equal("default/quickstart", summary.GetProperty("virtual_key").GetString());
        Assert.Equal("gpt-4o-mini", defaultModel);
        Assert.True(succeeded >= 1);
        Assert.Equal([defaultModel], summary.GetProperty("models_seen").EnumerateArray().Select(m => m.GetString()));
        Assert.True(summary.GetProperty("rate_limited").GetInt32() >= 1);
        Assert.Equal(summary.GetProperty("requests_sent").GetInt32(), succeeded + summary.GetProperty("rate_limited").GetInt32());
        Assert.Equal(succeeded, summary.GetProperty("status_requests").GetInt64());
        Assert.True(summary.GetProperty("status_cost_usd").GetDecimal() > 0);
        var columns = summary.GetProperty("printer_columns").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.Superset(new HashSet<string?> { "Ready", "Default Model", "RPM", "Spend", "Requests" }, columns.ToHashSet());
        Assert.Matches(@"429\s+rate_limit_rpm\s+Retry-After: \d+s", progress);
        Assert.Matches(@"\nNAME\s+READY\s+DEFAULT MODEL\s+RPM\s+TPM\s+SPEND\s+BUDGET\s+REQUESTS\s+AGE\n", progress.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("vk_", progress, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keep_leaves_the_stack_up_for_kubectl_until_Ctrl_C_then_cleans_up()
    {
        using var folder = new TemporaryDirectory();
        await using var vk = VkProcess.Start(folder.Path, "demo", "--keep");
        await vk.WaitForOutputAsync("press Ctrl+C to stop it", TimeSpan.FromMinutes(4));
        var kubeconfig = KubeconfigLine().Match(vk.Stdout).Groups[1].Value;
        var kubectl = new Kubectl(kubeconfig, Path.Combine(folder.Path, "cache"));

        var listed = await kubectl.SucceedAsync("get", "vk", "quickstart", "-o", "jsonpath={.status.usage.requests}");
        var exitCode = await vk.InterruptAsync(TimeSpan.FromSeconds(60));

        Assert.True(long.Parse(listed, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Matches(@"sidecar:\s+http://127\.0\.0\.1:\d+/", vk.Stdout);
        Assert.Equal(0, exitCode);
        Assert.Contains("--> stopping PostgreSQL", vk.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(kubeconfig), "the demo's temp folder (with its kubeconfig) was left behind");
        AssertCleanedUp(vk.Stdout);
    }

    [Fact]
    public async Task Against_a_cluster_from_a_kubeconfig_the_demo_works_in_its_own_namespace_and_removes_what_it_applied()
    {
        using var folder = new TemporaryDirectory();
        var kubeconfig = Path.Combine(folder.Path, "kubeconfig");
        await using var cluster = VkProcess.Start(folder.Path, "local-cluster", "--kubeconfig", kubeconfig);
        await cluster.WaitForOutputAsync("Press Ctrl+C to stop", TimeSpan.FromMinutes(1));
        var kubectl = new Kubectl(kubeconfig, Path.Combine(folder.Path, "cache"));

        var demo = await Vk.RunProcessAsync(folder.Path, "demo", "--kubeconfig", kubeconfig, "--json");
        var left = await kubectl.RunAsync("get", "vk,secrets", "-n", "vk-demo", "-o", "name");

        Assert.True(demo.ExitCode == 0, demo.Stderr);
        var summary = JsonDocument.Parse(demo.Stdout.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.Equal("vk-demo/quickstart", summary.GetProperty("virtual_key").GetString());
        Assert.True(summary.GetProperty("rate_limited").GetInt32() >= 1);
        Assert.Equal(summary.GetProperty("succeeded").GetInt32(), summary.GetProperty("status_requests").GetInt64());
        Assert.Contains("--> stopping virtualkey vk-demo/quickstart", demo.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("failed", demo.Stderr, StringComparison.Ordinal);
        Assert.Equal((0, ""), (left.ExitCode, left.Stdout.Trim()));
    }

    [Fact]
    public async Task A_missing_PostgreSQL_server_fails_naming_the_step_and_leaves_nothing_behind()
    {
        using var folder = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(folder.Path, "demo", "--postgres", "Host=127.0.0.1;Port=9;Username=postgres;Timeout=3");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("vk demo: starting the operator (in-process) failed:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--> stopping the local API server", result.Stdout, StringComparison.Ordinal);
        AssertCleanedUp(result.Stdout);
    }

    // The server runs in a session of its own (pg_ctl), so a kill of vk's process group or tree does
    // not reach it: the clean-up watchdog must survive that kill to stop the server and remove its files.
    [Fact]
    public async Task Killing_the_demos_whole_process_group_leaves_no_PostgreSQL_server_or_files_behind()
    {
        using var folder = new TemporaryDirectory();
        await using var vk = VkProcess.Start(folder.Path, "demo", "--keep");
        await vk.WaitForOutputAsync("press Ctrl+C to stop it", TimeSpan.FromMinutes(4));
        var data = PostgresDirectory().Match(vk.Stdout).Groups[1].Value;
        var kubeconfig = KubeconfigLine().Match(vk.Stdout).Groups[1].Value;
        Assert.True(Directory.Exists(data), $"the demo printed no PostgreSQL directory:\n{vk.Stdout}");
        Assert.True(File.Exists(kubeconfig), $"the demo printed no kubeconfig:\n{vk.Stdout}");
        Assert.NotEmpty(ProcessesNaming(data));

        await vk.SignalGroupAsync("KILL");
        await vk.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((Directory.Exists(data) || ProcessesNaming(data).Count > 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        Assert.Empty(ProcessesNaming(data));
        Assert.False(Directory.Exists(data), $"{data} was left behind");

        // The demo's KEK lies beside its kubeconfig: nothing the demo wrote outlives the kill.
        Assert.False(File.Exists(kubeconfig), $"{kubeconfig} (and the KEK beside it) was left behind");
    }

    /// <summary>Processes whose command line names <paramref name="path"/>: the postmaster (postgres -D {path}/data), and the watchdog until it is done.</summary>
    private static List<int> ProcessesNaming(string path)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ').Contains(path + "/", StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }

        return found;
    }

    private static void AssertCleanedUp(string progress)
    {
        foreach (Match match in PostgresDirectory().Matches(progress))
        {
            Assert.False(Directory.Exists(match.Groups[1].Value), $"{match.Groups[1].Value} was left behind");
        }
    }

    [GeneratedRegex(@"kubeconfig:\s+(\S+)")]
    private static partial Regex KubeconfigLine();

    [GeneratedRegex(@"data in (\S+)")]
    private static partial Regex PostgresDirectory();
}
