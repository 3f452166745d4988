using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;

namespace VirtualKeys.Cli.Tests.Commands;

public class KubeconfigTests
{
    private const string Template = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: c
          cluster:
            server: "SERVER"
        users:
        - name: u
          user: {}
        contexts:
        - name: x
          context:
            cluster: c
            user: u
            namespace: team-a
        current-context: x
        """;

    [Fact]
    public async Task A_missing_kubeconfig_file_is_named_on_stderr()
    {
        using var folder = new TemporaryDirectory();
        var missing = Path.Combine(folder.Path, "nope");

        var result = await Vk.InvokeAsync(UsageCommand.Create(), "--kubeconfig", missing);

        Assert.Equal((1, $"vk usage: kubeconfig {missing} does not exist"), (result.ExitCode, result.Stderr.Trim()));
    }

    [Fact]
    public async Task A_user_without_credentials_is_refused_for_a_remote_server()
    {
        using var folder = new TemporaryDirectory();
        var kubeconfig = Path.Combine(folder.Path, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, Template.Replace("SERVER", "https://cluster.example.com:6443", StringComparison.Ordinal), TestContext.Current.CancellationToken);

        var result = await Vk.InvokeAsync(UsageCommand.Create(), "--kubeconfig", kubeconfig);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("vk usage: cannot use the kubeconfig:", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_without_credentials_is_anonymous_on_plain_HTTP_loopback_and_the_context_namespace_applies()
    {
        using var folder = new TemporaryDirectory();
        var kubeconfig = Path.Combine(folder.Path, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, Template.Replace("SERVER", "http://127.0.0.1:9", StringComparison.Ordinal), TestContext.Current.CancellationToken);

        var result = await Vk.InvokeAsync(TokenCommand.Create(), "anything", "--kubeconfig", kubeconfig);

        // Nothing listens on the discard port: getting that far shows the kubeconfig was accepted.
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("vk token: cannot reach the Kubernetes API server", result.Stderr, StringComparison.Ordinal);
    }
}
