using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Hosting;

public sealed class LeaderFailoverTests(PostgresFixture postgres)
{
    [Fact]
    public async Task OnlyTheLeaderWrites_AndStoppingItHandsOver()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "leader");
        await env.CreateProviderSecretAsync("sk-1");
        var a = await env.StartOperatorAsync(env.Settings(leaderElection: true, identity: "op-a"));
        await Waits.UntilAsync(() => a.App.IsLeader, "op-a leads");
        var b = await env.StartOperatorAsync(env.Settings(leaderElection: true, identity: "op-b"));

        await env.CreateKeyAsync("first");
        await env.WaitForReadyReasonAsync("first", ConditionReasons.Reconciled);
        Assert.False(b.App.IsLeader);
        Assert.True(a.Writes.Count > 0);
        Assert.Equal(0, b.Writes.Count);
        Assert.Equal(0, b.Calls!.Count("reconcile"));

        await env.StopAsync(a);
        await Waits.UntilAsync(() => b.App.IsLeader, "op-b takes over", TimeSpan.FromSeconds(20));

        await env.CreateKeyAsync("second");
        await env.WaitForReadyReasonAsync("second", ConditionReasons.Reconciled);
        Assert.True(b.Writes.Count > 0);
    }
}
