using System.Collections.Concurrent;
using VirtualKeys.Operator.Observability;

namespace VirtualKeys.Operator.Tests.Support;

/// <summary>
/// Records the operator's external calls; optionally "crashes" at the Nth one by throwing, and
/// from then on fails every call, like a process that died there.
/// </summary>
internal sealed class CallLog(int crashAtCall = 0) : IExternalCallObserver
{
    private readonly ConcurrentQueue<string> _calls = new();
    private int _count;

    public bool Crashed { get; private set; }

    public IReadOnlyList<string> Calls => [.. _calls];

    public int Count(string operation) => _calls.Count(c => c == operation);

    public int CountPrefix(string prefix) => _calls.Count(c => c.StartsWith(prefix, StringComparison.Ordinal));

    public void BeforeCall(string operation)
    {
        if (operation == "reconcile")
        {
            _calls.Enqueue(operation);
            return;
        }

        var n = Interlocked.Increment(ref _count);
        if (Crashed || (crashAtCall > 0 && n >= crashAtCall))
        {
            Crashed = true;
            throw new OperationCanceledException($"simulated crash before call {n} ({operation})");
        }

        _calls.Enqueue(operation);
    }
}
