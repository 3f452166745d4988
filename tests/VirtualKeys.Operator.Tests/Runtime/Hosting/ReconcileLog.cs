using System.Collections.Concurrent;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Tests.Runtime.Support;

namespace VirtualKeys.Operator.Tests.Runtime.Hosting;

/// <summary>What the hosted reconcilers were asked to do, shared across their per-reconcile scopes.</summary>
internal sealed class ReconcileLog
{
    private readonly ConcurrentQueue<ReconcileRequest> _requests = new();

    public IReadOnlyList<ReconcileRequest> Requests => [.. _requests];

    /// <summary>Runs inside each reconcile; the default returns at once.</summary>
    public Func<CancellationToken, Task> Body { get; set; } = _ => Task.CompletedTask;

    public void Add(ReconcileRequest request) => _requests.Enqueue(request);

    public Task WaitForCountAsync(string key, int count) =>
        Wait.UntilAsync(() => _requests.Count(r => r.ToString() == key) >= count, () => $"{count} reconciles of {key} (have: {string.Join(", ", _requests)})");
}
