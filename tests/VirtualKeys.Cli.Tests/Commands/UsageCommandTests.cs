using System.Text.RegularExpressions;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Tests.Commands;

public sealed class UsageCommandTests(LocalClusterFixture cluster) : IClassFixture<LocalClusterFixture>
{
    [Fact]
    public async Task Usage_shows_each_key_with_the_usage_and_cost_from_its_status()
    {
        var ns = await cluster.CreateNamespaceAsync("usage");
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(ns, "busy", budget: "5.00"));
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(ns, "idle"));
        await TestKeys.SetStatusAsync(cluster.Client, ns, "busy", new VirtualKeyStatus
        {
            Conditions = [TestKeys.Ready("True", ConditionReasons.Reconciled)],
            Usage = new UsageStatus
            {
                Requests = 42,
                InputTokens = 1200,
                OutputTokens = 3400,
                CostUsd = "0.0125",
                Rejections = new Dictionary<string, long> { [RejectionCauses.RequestsPerMinute] = 3, [RejectionCauses.Budget] = 1 },
                LastRequestTime = DateTimeOffset.UtcNow.AddMinutes(-3),
            },
        });
        await TestKeys.SetStatusAsync(cluster.Client, ns, "idle", new VirtualKeyStatus
        {
            Conditions = [TestKeys.Ready("False", ConditionReasons.SecretNotFound, "Secret openai-key not found")],
        });

        var result = await Vk.InvokeAsync(UsageCommand.Create(), "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var lines = result.Stdout.ReplaceLineEndings("\n").TrimEnd().Split('\n');
        Assert.Matches(@"^NAMESPACE\s+NAME\s+READY\s+REQUESTS\s+INPUT\s+OUTPUT\s+SPEND\s+BUDGET\s+REJECTED\s+LAST-REQUEST$", lines[0]);
        Assert.Matches($@"^{ns}\s+busy\s+True\s+42\s+1200\s+3400\s+\$0\.0125\s+\$5\.00/Daily\s+4 \(budget=1,rpm=3\)\s+3m ago$", lines[1]);
        Assert.Matches($@"^{ns}\s+idle\s+False \(SecretNotFound\)\s+-\s+-\s+-\s+-\s+-\s+0\s+-$", lines[2]);
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public async Task All_namespaces_lists_the_keys_of_every_namespace()
    {
        var first = await cluster.CreateNamespaceAsync("all");
        var second = await cluster.CreateNamespaceAsync("all");
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(first, "one"));
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(second, "two"));

        var result = await Vk.InvokeAsync(UsageCommand.Create(), "--kubeconfig", cluster.Kubeconfig, "-A");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches($@"\n{first}\s+one\s+Unknown\s", result.Stdout);
        Assert.Matches($@"\n{second}\s+two\s+Unknown\s", result.Stdout);
    }

    [Fact]
    public async Task A_namespace_without_keys_says_so_on_stderr_and_succeeds()
    {
        var ns = await cluster.CreateNamespaceAsync("empty");

        var result = await Vk.InvokeAsync(UsageCommand.Create(), "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal((0, ""), (result.ExitCode, result.Stdout));
        Assert.Equal($"No VirtualKeys found in namespace {ns}.", result.Stderr.Trim());
    }

    [Fact]
    public async Task An_unreachable_server_fails_on_stderr()
    {
        // Port 9 (discard) on loopback: nothing listens there on a test machine.
        var kubeconfig = Path.Combine(cluster.Folder, "unreachable");
        var text = await File.ReadAllTextAsync(cluster.Kubeconfig, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(kubeconfig, Regex.Replace(text, "server: \"[^\"]*\"", "server: \"http://127.0.0.1:9\""), TestContext.Current.CancellationToken);

        var result = await Vk.InvokeAsync(UsageCommand.Create(), "--kubeconfig", kubeconfig);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("vk usage: cannot reach the Kubernetes API server", result.Stderr, StringComparison.Ordinal);
    }
}
