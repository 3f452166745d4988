using System.Diagnostics;
using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// Progress lines for the demo: one when a step starts, one when it ends, and a heartbeat while it
/// runs so that the terminal is never silent for more than a couple of seconds.
/// </summary>
internal sealed class DemoProgress(TextWriter writer)
{
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(1.5);
    private readonly TextWriter _writer = TextWriter.Synchronized(writer);

    public void Line(string text = "") => _writer.WriteLine(text);

    public void Detail(string text) => _writer.WriteLine("    " + text);

    /// <summary>Runs a step; a failure becomes one line that names the step.</summary>
    public async Task<T> StepAsync<T>(string description, Func<Task<T>> step, CancellationToken cancellationToken)
    {
        _writer.WriteLine($"==> {description}");
        var started = Stopwatch.GetTimestamp();
        using var heartbeatStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeat = HeartbeatAsync(description, started, heartbeatStop.Token);
        try
        {
            var result = await step();
            _writer.WriteLine($"    done in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0}s");
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"{char.ToLowerInvariant(description[0])}{description[1..]} failed: {ex.Message}", ex);
        }
        finally
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
        }
    }

    public Task StepAsync(string description, Func<Task> step, CancellationToken cancellationToken) =>
        StepAsync<bool>(description, async () =>
        {
            await step();
            return true;
        }, cancellationToken);

    private async Task HeartbeatAsync(string description, long started, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                _writer.WriteLine($"    ... still {char.ToLowerInvariant(description[0])}{description[1..]} ({Stopwatch.GetElapsedTime(started).TotalSeconds:0}s)");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
