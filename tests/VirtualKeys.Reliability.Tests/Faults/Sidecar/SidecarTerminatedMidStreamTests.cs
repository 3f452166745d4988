using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// The sidecar process gets SIGTERM (as Kubernetes sends it when a pod stops) while slow streams are
/// mid-way and a burst of requests is arriving.
/// </summary>
public sealed class SidecarTerminatedMidStreamTests(PostgresFixture server)
{
    private const string Model = "gpt-4o-mini";

    /// <summary>The .NET host's shutdown timeout, which the sidecar keeps: how long in-flight requests get to finish.</summary>
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task In_flight_streams_and_requests_finish_the_process_exits_within_its_shutdown_timeout_and_every_admitted_request_is_recorded()
    {
        var streams = ReliabilityRun.Pick(8, 32);
        var burstBeforeSignal = ReliabilityRun.Pick(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
        var streamsHeldAfterSignal = ReliabilityRun.Pick(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));

        var connectionString = await server.CreateDatabaseAsync("sidecar_sigterm", Cancel);
        await using var rig = await SidecarRig.StartAsync(connectionString, Cancel);
        var streamKey = await rig.AddKeyAsync("streams", Model, null, null, Cancel);
        var burstKey = await rig.AddKeyAsync("burst", Model, null, null, Cancel);
        var sidecar = await rig.StartSidecarAsync("sidecar-sigterm", null, Cancel);
        using var client = new HttpClient { BaseAddress = sidecar.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        // Streams stop after their first word until resumed: all of them are mid-way when the signal comes.
        rig.Upstream.PauseStreamsAfterFirstChunk();
        var captures = await Task.WhenAll(Enumerable.Range(1, streams).Select(words => StreamCapture.StartAsync(client, streamKey.Token, Model, words, Cancel)));
        await Task.WhenAll(captures.Select(c => c.WaitForFramesAsync(2, TimeSpan.FromSeconds(30), Cancel)));

        var burst = new ConcurrentQueue<(int Words, ChatOutcome Outcome)>();
        var nextWords = 0;
        using var stopBurst = new CancellationTokenSource();
        var burstWorkers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stopBurst.IsCancellationRequested)
            {
                var words = Interlocked.Increment(ref nextWords);
                var outcome = await ChatCall.SendAsync(client, burstKey.Token, ChatCall.Body(Model, words), "burst at SIGTERM", CancellationToken.None);
                burst.Enqueue((words, outcome));
                if (!outcome.Answered)
                {
                    await Task.Delay(20, CancellationToken.None);
                }
            }
        })).ToList();
        await Task.Delay(burstBeforeSignal, Cancel);

        var sinceSignal = Stopwatch.StartNew();
        sidecar.Terminate();
        await Task.Delay(streamsHeldAfterSignal, Cancel);
        rig.Upstream.ResumeStreams();
        var exitCode = await sidecar.WaitForExitAsync(ShutdownTimeout + TimeSpan.FromSeconds(15), Cancel);
        var exitedAfter = sinceSignal.Elapsed;
        await stopBurst.CancelAsync();
        await Task.WhenAll(burstWorkers);
        await Task.WhenAll(captures.Select(c => c.Finished));

        // The process is gone: whatever the registry holds now was flushed before it exited.
        var streamEvents = await rig.EventsAsync(streamKey.KeyId, Cancel);
        var burstEvents = await rig.EventsAsync(burstKey.KeyId, Cancel);
        await rig.ObserveRegistryTablesAsync("sidecar-sigterm", Cancel);
        var outcomes = burst.ToList();
        var answered = outcomes.Where(b => b.Outcome.Answered).ToList();
        var endings = captures.Select(c => c.Ending()).ToList();

        Assert.NotNull(exitCode);
        Assert.Equal(0, exitCode);
        Assert.True(exitedAfter < ShutdownTimeout, $"The sidecar took {exitedAfter.TotalSeconds:0.0} s to exit after SIGTERM; its shutdown timeout is {ShutdownTimeout.TotalSeconds:0} s.");
        Assert.All(captures, c => Assert.Equal(200, c.Status));

        // The shutdown waits for them: each stream admitted before the signal runs to its [DONE].
        Assert.All(endings, ending => Assert.Equal(StreamEnding.Complete, ending));
        Assert.All(outcomes, b => Assert.True(b.Outcome.Answered || b.Outcome.Status == 0, $"request of {b.Words} words: {b.Outcome.Status} {b.Outcome.Code}"));
        Assert.NotEmpty(answered);
        Assert.Contains(outcomes, b => !b.Outcome.Answered);

        // Every stream was admitted before the signal: each is in the registry, with the usage its last chunk reported when it completed.
        Assert.Equal(
            Enumerable.Range(1, streams).Select(w => (long)w),
            streamEvents.Where(e => e.Served).Select(e => e.InputTokens).Order());
        foreach (var capture in captures)
        {
            var usage = capture.Usage();
            Assert.NotNull(usage);
            Assert.Contains(streamEvents, e => e.InputTokens == usage.Value.Input && e.OutputTokens == usage.Value.Output);
        }

        // Every burst request the client saw answered is recorded with its tokens, and nothing the client did not see answered is.
        Assert.Equal(
            answered.Select(b => (b.Outcome.InputTokens, b.Outcome.OutputTokens)).Order(),
            burstEvents.Where(e => e.Served).Select(e => (e.InputTokens, e.OutputTokens)).Order());
        Assert.Equal(answered.Select(b => (long)b.Words).Order(), answered.Select(b => b.Outcome.InputTokens).Order());

        var complete = endings.Count(e => e == StreamEnding.Complete);
        var clean = endings.Count(e => e == StreamEnding.CleanClose);
        await new ScenarioFigures(
            "sidecar-sigterm-mid-stream-and-burst",
            "Faults",
            "Sidecar stopped with SIGTERM while streams are mid-way and a burst is arriving",
            string.Create(
                CultureInfo.InvariantCulture,
                $"{complete} of {streams} paused streams finished with [DONE] ({clean} closed cleanly, none truncated); {answered.Count} burst requests answered, the rest refused at the connection; the process exited 0 after {exitedAfter.TotalSeconds:0.0} s with every admitted request's usage in the registry"),
            Passed: true,
            [
                new("streams in flight at SIGTERM", streams),
                new("streams complete ([DONE])", complete),
                new("streams closed cleanly without [DONE]", clean),
                new("streams truncated", 0),
                new("streams held after SIGTERM (s)", streamsHeldAfterSignal.TotalSeconds),
                new("burst requests sent", outcomes.Count),
                new("burst answered", answered.Count),
                new("burst refused at the connection", outcomes.Count - answered.Count),
                new("usage recorded vs admitted", $"{streamEvents.Count(e => e.Served) + burstEvents.Count(e => e.Served)} / {streams + answered.Count}"),
                new("exit after SIGTERM (s)", Math.Round(exitedAfter.TotalSeconds, 1)),
                new("shutdown timeout (s)", ShutdownTimeout.TotalSeconds),
                new("exit code", exitCode.Value),
            ]).WriteAsync(Cancel);
    }
}
