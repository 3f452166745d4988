using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Model;
using VirtualKeys.Operator.Orphans;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Operator.Tests.Reconciliation;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Orphans;

/// <summary>
/// A VirtualKey deleted without its finalizer (stripped by hand to unstick a namespace) never
/// reaches the reconciler's tombstone; its token must still stop working.
/// </summary>
public sealed class OrphanedKeySweeperTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_key_deleted_without_its_finalizer_while_the_operator_was_down_is_revoked_when_it_leads_again()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "orphan-down");
        await env.CreateProviderSecretAsync("sk-1");
        var op = await env.StartOperatorAsync();
        await env.CreateKeyAsync("stripped");
        await env.CreateKeyAsync("kept");
        await env.WaitForReadyReasonAsync("stripped", ConditionReasons.Reconciled);
        await env.WaitForReadyReasonAsync("kept", ConditionReasons.Reconciled);
        var stripped = await VirtualKeyLifecycleTests.TokenAsync(env, "stripped-token");
        var kept = await VirtualKeyLifecycleTests.TokenAsync(env, "kept-token");
        await env.StopAsync(op);

        await DeleteWithoutFinalizerAsync(env, "stripped");
        op = await env.StartOperatorAsync();

        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(stripped, Ct)).Status == TokenVerificationStatus.KeyDeleted,
            "the orphaned key's token is refused");
        Assert.Equal(VirtualKeyState.Tombstoned, (await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "stripped", includeCredentials: false, Ct))!.State);
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(kept, Ct)).Status);
    }

    [Fact]
    public async Task Keys_whose_finalizers_were_stripped_during_a_registry_outage_are_revoked_soon_after_the_registry_is_back_however_many()
    {
        // The usual way to get here: the registry is down, so deleting keys (or their namespace)
        // hangs on the finalizer, and someone strips them.
        await using var cluster = await PostgresCluster.StartNewAsync(cancellationToken: Ct);
        await using var env = await OperatorEnvironment.StartAsync(postgres, "orphan-live", cluster.GetConnectionString());
        await env.CreateProviderSecretAsync("sk-1");

        // The default interval (10 minutes) between full sweeps, and fewer allowed per sweep than
        // there are keys: the deletes the informer saw are checked one by one, retried while the
        // registry is away, and not held back by the sweep's limit.
        var op = await env.StartOperatorAsync(env.Settings(orphanSweepLimit: 2));
        string[] names = ["first", "second", "third"];
        var tokens = new List<string>();
        foreach (var name in names)
        {
            await env.CreateKeyAsync(name);
            await env.WaitForReadyReasonAsync(name, ConditionReasons.Reconciled);
            tokens.Add(await VirtualKeyLifecycleTests.TokenAsync(env, name + "-token"));
        }

        await cluster.StopAsync(Ct);
        foreach (var name in names)
        {
            await env.DeleteKeyAsync(name);
        }

        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        Assert.NotNull(await env.GetKeyAsync("first"));
        foreach (var name in names)
        {
            await DeleteWithoutFinalizerAsync(env, name);
        }

        await Task.Delay(TimeSpan.FromSeconds(6), Ct);
        await cluster.StartAsync(Ct);

        foreach (var token in tokens)
        {
            await Waits.UntilAsync(
                async () => (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status == TokenVerificationStatus.KeyDeleted,
                "each orphaned key's token is refused");
        }
    }

    [Fact]
    public async Task A_running_operator_reports_a_key_revoked_behind_its_back_at_its_next_sweep()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "orphan-behind");
        await env.CreateProviderSecretAsync("sk-1");
        var op = await env.StartOperatorAsync();
        var created = await env.CreateKeyAsync("behind");
        await env.WaitForReadyReasonAsync("behind", ConditionReasons.Reconciled);

        // Another cluster's operator sharing the registry revokes it, say.
        Assert.True(await op.App.Registry.TombstoneAsync(new VirtualKeyIdentity(OperatorEnvironment.Ns, "behind", created.Metadata.Uid), Ct));
        await op.App.Services.GetRequiredService<OrphanedKeySweeper>().SweepOnceAsync(Ct);

        var key = await env.WaitForReadyReasonAsync("behind", ConditionReasons.Revoked);
        Assert.Equal("False", OperatorEnvironment.ReadyOf(key)!.Status);
    }

    [Fact]
    public async Task A_sweep_revokes_nothing_that_exists_and_nothing_outside_the_watched_namespaces()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "orphan-scope");
        await env.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team-b" } }, cancellationToken: Ct);
        await env.CreateProviderSecretAsync("sk-1");
        await env.Client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret { Metadata = new V1ObjectMeta { Name = OperatorEnvironment.ProviderSecret }, StringData = new Dictionary<string, string> { [OperatorEnvironment.ProviderKey] = "sk-1" } },
            "team-b",
            cancellationToken: Ct);

        // An operator watching every namespace registers a key in each.
        var everywhere = await env.StartOperatorAsync();
        await env.CreateKeyAsync("here");
        var there = OperatorEnvironment.NewKey("there");
        there.Metadata.NamespaceProperty = "team-b";
        await env.Client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(there, WellKnown.Group, WellKnown.Version, "team-b", WellKnown.Plural, cancellationToken: Ct);
        await env.WaitForReadyReasonAsync("here", ConditionReasons.Reconciled);
        await Waits.UntilAsync(
            async () => await everywhere.App.Registry.GetAsync("team-b", "there", includeCredentials: false, Ct) is { State: VirtualKeyState.Active },
            "the key in team-b is registered");
        await env.StopAsync(everywhere);

        // team-b's key goes without its finalizer; an operator that watches only the default namespace sweeps.
        await env.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), WellKnown.Group, WellKnown.Version, "team-b", WellKnown.Plural, "there", cancellationToken: Ct);
        await env.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(WellKnown.Group, WellKnown.Version, "team-b", WellKnown.Plural, "there", cancellationToken: Ct);
        var scoped = await env.StartOperatorAsync(env.Settings(watchNamespaces: [OperatorEnvironment.Ns]));
        var sweeper = scoped.App.Services.GetRequiredService<OrphanedKeySweeper>();

        Assert.Equal(0, await sweeper.SweepOnceAsync(Ct));
        Assert.Equal(VirtualKeyState.Active, (await scoped.App.Registry.GetAsync("team-b", "there", includeCredentials: false, Ct))!.State);
        Assert.Equal(VirtualKeyState.Active, (await scoped.App.Registry.GetAsync(OperatorEnvironment.Ns, "here", includeCredentials: false, Ct))!.State);
    }

    [Fact]
    public async Task A_sweep_that_finds_more_orphans_than_its_limit_revokes_none_of_them()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "orphan-limit");
        await env.CreateProviderSecretAsync("sk-1");
        var op = await env.StartOperatorAsync();
        string[] names = ["first", "second", "third"];
        foreach (var name in names)
        {
            await env.CreateKeyAsync(name);
            await env.WaitForReadyReasonAsync(name, ConditionReasons.Reconciled);
        }

        await env.StopAsync(op);
        foreach (var name in names)
        {
            await DeleteWithoutFinalizerAsync(env, name);
        }

        // As an operator pointed at a cluster whose VirtualKeys are not applied yet would see them.
        var held = await env.StartOperatorAsync(env.Settings(orphanSweepLimit: 2));
        var sweeper = held.App.Services.GetRequiredService<OrphanedKeySweeper>();
        Assert.Equal(0, await sweeper.SweepOnceAsync(Ct));
        foreach (var name in names)
        {
            Assert.Equal(VirtualKeyState.Active, (await held.App.Registry.GetAsync(OperatorEnvironment.Ns, name, includeCredentials: false, Ct))!.State);
        }

        using var http = new HttpClient();
        var scrape = await http.GetStringAsync(new Uri(new Uri(held.App.Urls.First()), "/metrics"), Ct);
        Assert.Contains("vk_orphaned_keys_withheld 3", scrape, StringComparison.Ordinal);
        await env.StopAsync(held);

        var allowed = await env.StartOperatorAsync(env.Settings(orphanSweepLimit: 3));
        await Waits.UntilAsync(
            async () => (await allowed.App.Registry.GetAsync(OperatorEnvironment.Ns, "third", includeCredentials: false, Ct))!.State == VirtualKeyState.Tombstoned,
            "with the limit raised the orphans are revoked");
        Assert.Equal(0, await allowed.App.Services.GetRequiredService<OrphanedKeySweeper>().SweepOnceAsync(Ct));
    }

    [Fact]
    public async Task A_key_the_registry_holds_as_deleted_is_reported_revoked_and_its_token_Secret_left_alone()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "orphan-revoked");
        await env.CreateProviderSecretAsync("sk-1");
        var op = await env.StartOperatorAsync();
        var created = await env.CreateKeyAsync("back");
        await env.WaitForReadyReasonAsync("back", ConditionReasons.Reconciled);
        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "back-token");
        await env.StopAsync(op);

        // Revoked behind this cluster's back: another cluster's operator sharing the registry, say.
        await using (var registry = await VirtualKeys.Registry.VirtualKeyRegistry.OpenAsync(env.ConnectionString, env.KekPath, TimeProvider.System, null, Ct))
        {
            Assert.True(await registry.TombstoneAsync(new VirtualKeyIdentity(OperatorEnvironment.Ns, "back", created.Metadata.Uid), Ct));
        }

        await env.StartOperatorAsync();
        var key = await env.WaitForReadyReasonAsync("back", ConditionReasons.Revoked);

        Assert.Equal("False", OperatorEnvironment.ReadyOf(key)!.Status);
        Assert.Contains("delete the VirtualKey and create it again", OperatorEnvironment.ReadyOf(key)!.Message, StringComparison.Ordinal);
        Assert.Equal(token, await VirtualKeyLifecycleTests.TokenAsync(env, "back-token"));
        Assert.DoesNotContain(await env.EventsForAsync("back"), e => e.Reason is "RetiredTokenReplaced" or "TokenRotated");
    }

    [Theory]
    [InlineData(0, 600)]
    [InlineData(1, 60)]
    [InlineData(300, 300)]
    public void The_sweep_interval_follows_the_resync_interval_with_a_floor_and_a_default_for_none(int resyncSeconds, int sweepSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(sweepSeconds), OrphanedKeySweeperOptions.IntervalFor(TimeSpan.FromSeconds(resyncSeconds)));

    /// <summary>Strips the finalizer, then deletes (a no-op when the key is already being deleted, as when its deletion hung).</summary>
    private static async Task DeleteWithoutFinalizerAsync(OperatorEnvironment env, string name)
    {
        await env.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), WellKnown.Group, WellKnown.Version, OperatorEnvironment.Ns, WellKnown.Plural, name, cancellationToken: Ct);
        if (await env.GetKeyAsync(name) is not null)
        {
            await env.DeleteKeyAsync(name);
        }

        await Waits.UntilAsync(async () => await env.GetKeyAsync(name) is null, $"{name} is gone at once, with no finalizer to wait for");
    }
}
