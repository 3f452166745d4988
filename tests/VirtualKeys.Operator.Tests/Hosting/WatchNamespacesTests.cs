using k8s;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Operator.Options;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Hosting;

public sealed class WatchNamespacesTests(PostgresFixture postgres)
{
    [Fact]
    public async Task OnlyWatchedNamespaces_AreReconciled()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await OperatorEnvironment.StartAsync(postgres, "namespaces");
        await env.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team-a" } }, cancellationToken: ct);
        var defaults = env.Settings();
        await env.StartOperatorAsync(new OperatorSettings
        {
            RegistryConnectionString = defaults.RegistryConnectionString,
            RegistryKekFile = defaults.RegistryKekFile,
            WatchNamespaces = ["team-a"],
            LeaderElectionEnabled = false,
            Urls = defaults.Urls,
        });

        foreach (var ns in new[] { "team-a", OperatorEnvironment.Ns })
        {
            await env.Client.CoreV1.CreateNamespacedSecretAsync(
                new V1Secret { Metadata = new V1ObjectMeta { Name = OperatorEnvironment.ProviderSecret }, StringData = new Dictionary<string, string> { [OperatorEnvironment.ProviderKey] = "sk-1" } },
                ns,
                cancellationToken: ct);
            var key = OperatorEnvironment.NewKey("scoped");
            key.Metadata.NamespaceProperty = ns;
            await env.Client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(key, WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, cancellationToken: ct);
        }

        await Waits.UntilAsync(
            async () => (VirtualKey?)await env.Client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(WellKnown.Group, WellKnown.Version, "team-a", WellKnown.Plural, "scoped", ct),
            k => OperatorEnvironment.ReadyOf(k)?.Reason == ConditionReasons.Reconciled,
            _ => "the key in the watched namespace is Ready");
        var ignored = await env.GetKeyAsync("scoped");
        Assert.Null(ignored!.Status);
        Assert.Null(ignored.Metadata.Finalizers);
    }
}
