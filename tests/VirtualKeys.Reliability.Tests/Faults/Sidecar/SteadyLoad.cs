using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using VirtualKeys.Reliability.Tests.Support;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// A steady load on one sidecar: workers that resolve and report usage (each decision id becomes a
/// request id in the registry, so recorded usage can be compared request for request) and workers that
/// send chat completions through the proxy. Each request is tagged with the phase it was sent in.
/// </summary>
internal sealed class SteadyLoad(HttpClient client, string resolveToken, string proxyToken, string model)
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(5);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _workers = [];
    private int _phase;
    private long _sequence;

    public ConcurrentQueue<ReportedUsage> Reported { get; } = new();

    public ConcurrentQueue<ProxiedRequest> Proxied { get; } = new();

    public ConcurrentQueue<FailedCall> Failed { get; } = new();

    public LoadPhase Phase
    {
        get => (LoadPhase)Volatile.Read(ref _phase);
        set => Volatile.Write(ref _phase, (int)value);
    }

    public void Start(int workersOfEachKind)
    {
        for (var i = 0; i < workersOfEachKind; i++)
        {
            _workers.Add(Task.Run(() => ResolveLoopAsync(_stop.Token)));
            _workers.Add(Task.Run(() => ProxyLoopAsync(_stop.Token)));
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        _stop.Dispose();
    }

    private async Task ResolveLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var phase = Phase;
            var i = Interlocked.Increment(ref _sequence);
            try
            {
                await ResolveAndReportAsync(phase, 10 + (i % 90), 5 + (i % 40));
                await Task.Delay(Pause, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ProxyLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var phase = Phase;
            var words = 1 + (int)(Interlocked.Increment(ref _sequence) % 50);
            var outcome = await ChatCall.SendAsync(client, proxyToken, ChatCall.Body(model, words), "steady load proxy", CancellationToken.None);
            Proxied.Enqueue(new ProxiedRequest(phase, outcome));
            try
            {
                await Task.Delay(Pause, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Never cancelled half-way: a decision the client gave up on would be settled later and blur the comparison.</summary>
    private async Task ResolveAndReportAsync(LoadPhase phase, long input, long output)
    {
        string decisionId;
        try
        {
            using var resolved = await client.PostAsJsonAsync("/v1/resolve", new { virtualKey = resolveToken, model });
            var text = await resolved.Content.ReadAsStringAsync();
            if (!resolved.IsSuccessStatusCode)
            {
                SecretLedger.Observe("steady load resolve: error body", text);
                Failed.Enqueue(new FailedCall(phase, "resolve", (int)resolved.StatusCode, ChatCall.ErrorCode(text)));
                return;
            }

            // The answer carries the provider credential by design (the router needs it): only the id is kept, nothing is logged.
            using var document = JsonDocument.Parse(text);
            decisionId = document.RootElement.GetProperty("decisionId").GetString()!;
        }
        catch (HttpRequestException)
        {
            Failed.Enqueue(new FailedCall(phase, "resolve", 0, "transport_error"));
            return;
        }

        try
        {
            using var reported = await client.PostAsJsonAsync("/v1/usage", new { decisionId, inputTokens = input, outputTokens = output, status = "success", latencyMs = 12.5 });
            var text = await reported.Content.ReadAsStringAsync();
            SecretLedger.Observe("steady load usage report answer", text);
            if (!reported.IsSuccessStatusCode)
            {
                Failed.Enqueue(new FailedCall(phase, "usage", (int)reported.StatusCode, ChatCall.ErrorCode(text)));
                return;
            }

            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.GetProperty("status").GetString() != "recorded")
            {
                Failed.Enqueue(new FailedCall(phase, "usage", 200, root.GetProperty("status").GetString()));
                return;
            }

            Reported.Enqueue(new ReportedUsage(decisionId, input, output, root.GetProperty("costUsd").GetDecimal(), phase));
        }
        catch (HttpRequestException)
        {
            Failed.Enqueue(new FailedCall(phase, "usage", 0, "transport_error"));
        }
    }
}
