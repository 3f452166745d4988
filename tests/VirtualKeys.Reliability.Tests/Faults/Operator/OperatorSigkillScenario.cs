using System.Globalization;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// Issue #8: the operator process is SIGKILLed at random moments, again and again, while a seeded
/// driver creates, updates, rotates and deletes VirtualKeys and changes their provider Secrets;
/// after the last restart everything converges with one live token per key and nothing orphaned.
/// </summary>
public sealed class OperatorSigkillScenario(PostgresFixture postgres)
{
    [Fact]
    public async Task Operator_killed_repeatedly_during_changes_converges_with_one_token_per_key_and_no_orphans()
    {
        var ct = TestContext.Current.CancellationToken;
        var seed = ScenarioSeed.Next("operator-sigkill");
        var kills = ReliabilityRun.Pick(3, 20);
        var knobs = new OperatorKnobs(TokenRotationGrace: TimeSpan.FromSeconds(2));
        var timing = new Random(unchecked(seed * 31 + 7));
        await using var cluster = await ChaosCluster.StartAsync(postgres, "sigkill", ct);
        var driver = new ChaosDriver(cluster, new Random(seed), names: ReliabilityRun.Pick(6, 12));
        await driver.SeedAsync(ct);

        var op = cluster.StartOperator("op-0", knobs);
        var killedDuringStartup = 0;
        var writesBeforeKills = 0;
        var deletedWhileDown = false;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var driving = driver.RunAsync(stop.Token);
        for (var i = 1; i <= kills; i++)
        {
            // One kill in four lands while the process starts (migrations, cache sync); the others at a
            // random moment after it began writing, i.e. while it works through the driver's changes.
            if (timing.Next(4) == 0)
            {
                await Task.Delay(timing.Next(0, 1_500), ct);
                killedDuringStartup++;
            }
            else
            {
                await WaitForFirstWriteAsync(op, ct);
                await Task.Delay(timing.Next(0, ReliabilityRun.Pick(1_500, 4_000)), ct);
            }

            writesBeforeKills += op.ReconcilerWrites().Count;
            op.Kill();
            if (i == kills)
            {
                await stop.CancelAsync();
                await driving;
                deletedWhileDown = await driver.DeleteARegisteredKeyAsync(ct);
                await driver.RestoreAsync(ct);
            }

            op = cluster.StartOperator($"op-{i}", knobs);
        }

        var report = await ConvergenceCheck.WaitAsync(cluster, driver.DeletedUids, knobs.Grace, ReliabilityRun.Pick(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120)), ct);
        var convergence = DateTimeOffset.UtcNow - op.StartedAt;
        await cluster.ObserveOutputsAsync(ChaosDriver.ProviderSecrets, ct);

        Assert.True(report.Converged, $"seed {seed}: not converged {convergence.TotalSeconds:0.0}s after the last restart:{Environment.NewLine}{string.Join(Environment.NewLine, report.Problems)}");
        Assert.Equal(0, report.Orphans);
        // The tracker hands every token to the ledger as it is written; it must at least have seen the live ones.
        Assert.Null(cluster.Tokens.Failure);
        Assert.True(cluster.Tokens.Tracked >= report.LiveKeys, $"seed {seed}: the token tracker saw {cluster.Tokens.Tracked} tokens for {report.LiveKeys} live keys");

        // A registered key deleted while no operator ran carries the finalizer and a registry row:
        // the restarted operator must tombstone it before the delete completes.
        Assert.True(!deletedWhileDown || report.Tombstones > 0, $"seed {seed}: the key deleted while the operator was down left no tombstone");
        Assert.False(op.HasExited, $"seed {seed}: the last operator process exited by itself: {op.Tail()}");

        var seconds = Math.Round(convergence.TotalSeconds, 1);
        await new ScenarioFigures(
            "operator-sigkill",
            "Faults",
            "Operator SIGKILLed at random moments while VirtualKeys are created, updated, rotated and deleted",
            $"After {kills} SIGKILLs ({killedDuringStartup} during start-up) amid {driver.Operations} changes, everything converged {seconds.ToString(CultureInfo.InvariantCulture)} s after the last restart: "
                + $"{report.LiveKeys} keys Ready with exactly one token each, {report.Tombstones} deleted keys tombstoned, {report.Orphans} orphaned rows or Secrets.",
            Passed: true,
            [
                new("kills (SIGKILL)", kills),
                new("kills during start-up", killedDuringStartup),
                new("operations", driver.Operations),
                new("reconciler writes logged by the killed processes", writesBeforeKills),
                new("creates / updates / rotations / deletes / provider Secret changes", $"{driver.Creates} / {driver.Updates} / {driver.Rotations} / {driver.Deletes} / {driver.SecretChanges}"),
                new("convergence after the last restart (s)", seconds),
                new("live keys at the end", report.LiveKeys),
                new("deleted keys found tombstoned", report.Tombstones),
                new("a registered key deleted while the operator was down", deletedWhileDown ? "yes, tombstoned after the restart" : "none was registered"),
                new("rotated-out tokens still in grace", report.TokensInGrace),
                new("orphaned registry rows or token Secrets", report.Orphans),
                new("tokens issued during the run, each searched for by the secret scanner", cluster.Tokens.Tracked),
                new("seed", seed),
            ]).WriteAsync(ct);
    }

    /// <summary>Waits until the process has logged a write of its own (a token, a registry row, a tombstone).</summary>
    private static async Task WaitForFirstWriteAsync(OperatorProcess op, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        while (op.ReconcilerWrites().Count == 0)
        {
            if (op.HasExited || DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"Operator {op.Identity} wrote nothing within 60s of its start while keys kept changing: {op.Tail()}");
            }

            await Task.Delay(20, ct);
        }
    }
}
