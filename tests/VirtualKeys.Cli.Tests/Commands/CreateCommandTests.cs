using k8s;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Model;
using VirtualKeys.Model.Validation;

namespace VirtualKeys.Cli.Tests.Commands;

public sealed class CreateCommandTests(LocalClusterFixture cluster) : IClassFixture<LocalClusterFixture>
{
    private static readonly string[] TeamA =
    [
        "team-a", "--provider-secret", "openai-key", "--provider-type", "OpenAI", "--default-model", "gpt-4o-mini",
        "--allowed-model", "gpt-4o-mini", "--allowed-model", "gpt-4o", "--rpm", "60", "--tpm", "50000", "--max-parallel", "4",
        "--budget", "12.50", "--budget-period", "Weekly", "--expires-at", "2027-01-31T00:00:00Z",
    ];

    [Fact]
    public async Task The_printed_manifest_is_a_valid_VirtualKey_with_every_option_in_its_field()
    {
        var result = await Vk.InvokeAsync(CreateCommand.Create(), TeamA);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var key = KubernetesYaml.Deserialize<VirtualKey>(result.Stdout, strict: true);
        Assert.Empty(VirtualKeyValidator.Validate(key));
        Assert.Equal((WellKnown.ApiVersion, WellKnown.Kind, "team-a"), (key.ApiVersion, key.Kind, key.Metadata.Name));
        var provider = Assert.Single(key.Spec.Providers);
        Assert.Equal((ProviderType.OpenAI, "openai-key", "apiKey"), (provider.Type, provider.SecretRef.Name, provider.SecretRef.Key));
        Assert.Equal("gpt-4o-mini", key.Spec.DefaultModel);
        Assert.Equal(["gpt-4o-mini", "gpt-4o"], key.Spec.AllowedModels!);
        Assert.Equal((60, 50000, 4), (key.Spec.Limits!.RequestsPerMinute, key.Spec.Limits.TokensPerMinute, key.Spec.Limits.MaxParallelRequests));
        Assert.Equal(("12.50", BudgetPeriod.Weekly), (key.Spec.Budget!.MaxCostUsd, key.Spec.Budget.Period));
        Assert.Equal(new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero), key.Spec.ExpiresAt);
        Assert.Contains("maxCostUsd: \"12.50\"", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("expiresAt: \"2027-01-31T00:00:00Z\"", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_key_after_a_colon_and_a_base_url_reach_the_provider()
    {
        var result = await Vk.InvokeAsync(
            CreateCommand.Create(),
            "local", "--provider-secret", "demo-provider-key:token-file", "--provider-type", "openaicompatible",
            "--base-url", "http://127.0.0.1:18080/v1", "--default-model", "gpt-4o-mini", "-n", "sandbox");

        Assert.Equal(0, result.ExitCode);
        var key = KubernetesYaml.Deserialize<VirtualKey>(result.Stdout, strict: true);
        var provider = Assert.Single(key.Spec.Providers);
        Assert.Equal((ProviderType.OpenAICompatible, "http://127.0.0.1:18080/v1"), (provider.Type, provider.BaseUrl));
        Assert.Equal(("demo-provider-key", "token-file"), (provider.SecretRef.Name, provider.SecretRef.Key));
        Assert.Equal("sandbox", key.Metadata.NamespaceProperty);
        Assert.Null(key.Spec.Budget);
        Assert.Null(key.Spec.Limits);
    }

    [Fact]
    public async Task Invalid_options_fail_on_stderr_naming_each_field_and_option_and_print_nothing()
    {
        var result = await Vk.InvokeAsync(
            CreateCommand.Create(),
            "Team_A", "--provider-secret", "demo-provider-key", "--provider-type", "OpenAICompatible", "--default-model", "gpt-4o-mini",
            "--rpm", "0", "--budget", "-3");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, line => line.StartsWith("vk create: metadata.name (NAME): must be a DNS-1123 subdomain", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("vk create: spec.providers[0].baseUrl (--base-url): is required for type OpenAICompatible", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("vk create: spec.limits.requestsPerMinute (--rpm): must be at least 1, got 0", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("vk create: spec.budget.maxCostUsd (--budget):", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_budget_period_without_a_budget_and_a_bad_time_are_refused()
    {
        var period = await Vk.InvokeAsync(CreateCommand.Create(), "k", "--provider-secret", "s", "--provider-type", "OpenAI", "--default-model", "m", "--budget-period", "Daily");
        var time = await Vk.InvokeAsync(CreateCommand.Create(), "k", "--provider-secret", "s", "--provider-type", "OpenAI", "--default-model", "m", "--expires-at", "next tuesday");

        Assert.Equal(1, period.ExitCode);
        Assert.Contains("spec.budget.period (--budget-period): needs --budget", period.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, time.ExitCode);
        Assert.Contains("--expires-at must be a time such as 2026-12-31T00:00:00Z", time.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("apiVersion", time.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_creates_the_key_then_reports_unchanged_then_configured_after_a_change()
    {
        var ns = await cluster.CreateNamespaceAsync("create");
        await TestKeys.CreateSecretAsync(cluster.Client, ns, "openai-key", "apiKey", "sk-not-a-real-key");
        string[] apply = [.. TeamA, "--apply", "--kubeconfig", cluster.Kubeconfig, "-n", ns];

        var created = await Vk.InvokeAsync(CreateCommand.Create(), apply);
        var again = await Vk.InvokeAsync(CreateCommand.Create(), apply);
        var changed = await Vk.InvokeAsync(CreateCommand.Create(), [.. apply.Select(arg => arg == "60" ? "120" : arg)]);

        Assert.Equal((0, ""), (created.ExitCode, created.Stderr));
        Assert.StartsWith($"virtualkey {ns}/team-a created\n", created.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains($"vk token team-a -n {ns}", created.Stdout, StringComparison.Ordinal);
        Assert.StartsWith($"virtualkey {ns}/team-a unchanged", again.Stdout, StringComparison.Ordinal);
        Assert.StartsWith($"virtualkey {ns}/team-a configured", changed.Stdout, StringComparison.Ordinal);
        var stored = await TestKeys.GetAsync(cluster.Client, ns, "team-a");
        Assert.Equal((120, "12.50", "gpt-4o-mini"), (stored.Spec.Limits!.RequestsPerMinute, stored.Spec.Budget!.MaxCostUsd, stored.Spec.DefaultModel));
    }

    [Fact]
    public async Task Apply_warns_on_stderr_when_the_provider_Secret_is_missing()
    {
        var ns = await cluster.CreateNamespaceAsync("create");

        var result = await Vk.InvokeAsync(CreateCommand.Create(), [.. TeamA, "--apply", "--kubeconfig", cluster.Kubeconfig, "-n", ns]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"warning: Secret {ns}/openai-key does not exist yet", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_into_a_missing_namespace_fails_naming_it()
    {
        var result = await Vk.InvokeAsync(CreateCommand.Create(), [.. TeamA, "--apply", "--kubeconfig", cluster.Kubeconfig, "-n", "no-such-namespace"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("vk create: namespace no-such-namespace not found", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_printed_manifest_applies_with_the_real_kubectl()
    {
        var ns = await cluster.CreateNamespaceAsync("kubectl");
        var printed = await Vk.InvokeAsync(CreateCommand.Create(), TeamA);
        var file = Path.Combine(cluster.Folder, ns + ".yaml");
        await File.WriteAllTextAsync(file, printed.Stdout, TestContext.Current.CancellationToken);
        var kubectl = new Kubectl(cluster.Kubeconfig, Path.Combine(cluster.Folder, "cache-" + ns));

        var output = await kubectl.SucceedAsync("apply", "-n", ns, "-f", file);

        Assert.Contains("virtualkey.aigateway.dev/team-a created", output, StringComparison.Ordinal);
        var stored = await TestKeys.GetAsync(cluster.Client, ns, "team-a");
        Assert.Equal(new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero), stored.Spec.ExpiresAt);
    }
}
