using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Tests.Commands;

public sealed class TokenCommandTests(LocalClusterFixture cluster) : IClassFixture<LocalClusterFixture>
{
    private const string IssuedToken = "vk_0123456789ab_not-a-real-secret";

    [Fact]
    public async Task Token_prints_the_token_from_the_key_s_token_Secret_and_nothing_else()
    {
        var ns = await cluster.CreateNamespaceAsync("token");
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(ns, "quickstart"));
        await TestKeys.CreateSecretAsync(cluster.Client, ns, "quickstart-token", WellKnown.TokenSecretKey, IssuedToken);

        var result = await Vk.InvokeAsync(TokenCommand.Create(), "quickstart", "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal((0, IssuedToken + Environment.NewLine, ""), (result.ExitCode, result.Stdout, result.Stderr));
    }

    [Fact]
    public async Task Token_reads_the_Secret_named_in_status()
    {
        var ns = await cluster.CreateNamespaceAsync("token");
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(ns, "named"));
        await TestKeys.SetStatusAsync(cluster.Client, ns, "named", new VirtualKeyStatus { TokenSecretName = "custom-token" });
        await TestKeys.CreateSecretAsync(cluster.Client, ns, "custom-token", WellKnown.TokenSecretKey, IssuedToken);

        var result = await Vk.InvokeAsync(TokenCommand.Create(), "named", "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal(IssuedToken, result.Stdout.Trim());
    }

    [Fact]
    public async Task A_missing_key_fails_with_its_name_on_stderr()
    {
        var ns = await cluster.CreateNamespaceAsync("token");

        var result = await Vk.InvokeAsync(TokenCommand.Create(), "foo", "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal((1, ""), (result.ExitCode, result.Stdout));
        Assert.Equal($"vk token: virtualkey {ns}/foo not found", result.Stderr.Trim());
    }

    [Fact]
    public async Task A_key_without_a_token_yet_fails_with_the_Ready_reason()
    {
        var ns = await cluster.CreateNamespaceAsync("token");
        await TestKeys.CreateAsync(cluster.Client, TestKeys.New(ns, "pending"));
        await TestKeys.SetStatusAsync(cluster.Client, ns, "pending", new VirtualKeyStatus
        {
            Conditions = [TestKeys.Ready("False", ConditionReasons.SecretNotFound, "Secret openai-key not found")],
        });

        var result = await Vk.InvokeAsync(TokenCommand.Create(), "pending", "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal((1, ""), (result.ExitCode, result.Stdout));
        Assert.Contains($"the Secret {ns}/pending-token does not exist", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Ready is False (SecretNotFound): Secret openai-key not found", result.Stderr, StringComparison.Ordinal);
    }
}
