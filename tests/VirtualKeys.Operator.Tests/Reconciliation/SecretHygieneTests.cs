using Microsoft.Extensions.Logging;
using Prometheus;
using VirtualKeys.Model;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class SecretHygieneTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ProviderKeysAndTokens_NeverAppearInLogsEventsOrStatus()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await OperatorEnvironment.StartAsync(postgres, "hygiene");
        var logs = new CapturedLogs();
        await using var app = await OperatorApp.BuildAsync(
            env.Settings(),
            env.Server.CreateClientConfiguration(),
            new OperatorAppOptions
            {
                ConfigureLogging = l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs),
                MetricsRegistry = Metrics.NewCustomRegistry(),
            },
            ct);
        await app.StartAsync(ct);
        await env.CreateProviderSecretAsync("sk-very-secret-provider-key");
        await env.CreateKeyAsync("clean", spec => spec.Providers.Add(new ProviderSpec
        {
            Name = "backup",
            Type = ProviderType.Anthropic,
            SecretRef = new SecretKeyRef { Name = "missing-secret", Key = "k" },
        }));
        await env.WaitForReadyReasonAsync("clean", ConditionReasons.SecretNotFound);
        await env.CreateProviderSecretAsync("sk-another-secret-value", name: "missing-secret", key: "k");
        await env.WaitForReadyReasonAsync("clean", ConditionReasons.Reconciled);
        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "clean-token");
        await env.UpdateKeyAsync("clean", k => k.Metadata.Annotations = new Dictionary<string, string> { [WellKnown.RotateTokenAnnotation] = "now" });
        var rotated = await Waits.UntilAsync(
            async () => await VirtualKeyLifecycleTests.TokenAsync(env, "clean-token"),
            t => t != token,
            _ => "the token rotated");

        var key = await env.GetKeyAsync("clean");
        var logged = logs.All;

        // Logging is wired, so the check below reads what the operator wrote: among it the reconciler's
        // own line from when it put this key's token into its Secret.
        Assert.Contains($"VirtualKey {OperatorEnvironment.Ns}/clean: issued a token into Secret clean-token", logged, StringComparison.Ordinal);
        var visible = string.Join(
            '\n',
            logged,
            k8s.KubernetesJson.Serialize(key),
            string.Join('\n', (await env.EventsForAsync("clean")).Select(e => e.Message)));
        foreach (var secret in new[] { "sk-very-secret-provider-key", "sk-another-secret-value", token, rotated, token[^43..], rotated[^43..] })
        {
            Assert.DoesNotContain(secret, visible, StringComparison.Ordinal);
        }

        await app.StopAsync(ct);
    }
}
