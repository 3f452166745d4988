using System.Net;
using System.Net.Sockets;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Cli.Tests.Commands;

public class LocalClusterCommandTests
{
    private const string ReadyLine = "Press Ctrl+C to stop";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task The_real_kubectl_lists_VirtualKeys_on_the_local_cluster_and_Ctrl_C_stops_it()
    {
        using var folder = new TemporaryDirectory();
        var kubeconfig = Path.Combine(folder.Path, "kubeconfig");
        await using var vk = VkProcess.Start(folder.Path, "local-cluster", "--kubeconfig", kubeconfig);
        await vk.WaitForOutputAsync(ReadyLine, StartTimeout);
        var kubectl = new Kubectl(kubeconfig, Path.Combine(folder.Path, "cache"));

        var empty = await kubectl.RunAsync("get", "vk");
        await kubectl.SucceedAsync("apply", "-k", Path.Combine(ToolPaths.RepositoryRoot, "examples", "quickstart"));
        var listed = await kubectl.SucceedAsync("get", "vk");
        var exitCode = await vk.InterruptAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((0, "No resources found in default namespace."), (empty.ExitCode, empty.Stderr.Trim()));
        Assert.Matches(@"^NAME\s+READY\s+DEFAULT MODEL\s+RPM\s+TPM\s+SPEND\s+BUDGET\s+REQUESTS\s+AGE", listed);
        Assert.Matches(@"\nquickstart\s+gpt-4o-mini\s+5\s+20000\s+5\.00\s+", listed);
        Assert.Contains($"export KUBECONFIG={kubeconfig}", vk.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, exitCode);
        Assert.Contains("Stopping the local API server", vk.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_no_crd_the_cluster_does_not_know_VirtualKeys()
    {
        using var folder = new TemporaryDirectory();
        var kubeconfig = Path.Combine(folder.Path, "kubeconfig");
        await using var vk = VkProcess.Start(folder.Path, "local-cluster", "--kubeconfig", kubeconfig, "--no-crd");
        await vk.WaitForOutputAsync(ReadyLine, StartTimeout);
        var kubectl = new Kubectl(kubeconfig, Path.Combine(folder.Path, "cache"));

        var result = await kubectl.RunAsync("get", "vk");
        var namespaces = await kubectl.SucceedAsync("get", "namespaces", "-o", "name");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("doesn't have a resource type \"vk\"", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("namespace/default", namespaces, StringComparison.Ordinal);
        Assert.DoesNotContain("Installed the CustomResourceDefinition", vk.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_fails_on_stderr_naming_the_port()
    {
        using var folder = new TemporaryDirectory();
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((IPEndPoint)occupied.LocalEndpoint).Port;

        var result = await Vk.RunProcessAsync(folder.Path, "local-cluster", "--kubeconfig", Path.Combine(folder.Path, "kubeconfig"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"vk local-cluster: cannot listen on 127.0.0.1:{port}", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder.Path, "kubeconfig")));
    }

    [Fact]
    public async Task The_kubeconfig_option_is_required()
    {
        using var folder = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(folder.Path, "local-cluster");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--kubeconfig", result.Stderr, StringComparison.Ordinal);
    }
}
