using System.Collections.Concurrent;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

/// <summary>
/// An <see cref="IListWatcher{T}"/> whose answers the test writes: each list returns what
/// <see cref="OnList"/> says (or throws what it throws), each watch is a
/// <see cref="ScriptedWatch{T}"/> the test feeds. No server semantics live here; the informer's
/// behaviour against a real API server is tested elsewhere.
/// </summary>
internal sealed class ScriptedListWatcher<T> : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Channel<ScriptedWatch<T>> _watches = Channel.CreateUnbounded<ScriptedWatch<T>>();
    private readonly ConcurrentQueue<string?> _listCalls = new();

    public string Kind => "scripted";

    public Func<string?, ResourceList<T>> OnList { get; set; } = _ => new ResourceList<T>([], "1");

    public IReadOnlyList<string?> ListCalls => [.. _listCalls];

    public Task<ResourceList<T>> ListAsync(string? @namespace, CancellationToken cancellationToken)
    {
        _listCalls.Enqueue(@namespace);
        try
        {
            return Task.FromResult(OnList(@namespace));
        }
        catch (Exception e)
        {
            return Task.FromException<ResourceList<T>>(e);
        }
    }

    public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
        string? @namespace,
        string resourceVersion,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var watch = new ScriptedWatch<T>(@namespace, resourceVersion);
        _watches.Writer.TryWrite(watch);
        return watch.ReadAllAsync(cancellationToken);
    }

    /// <summary>The next watch the informer opens.</summary>
    public async Task<ScriptedWatch<T>> NextWatchAsync() =>
        await _watches.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

    public Task WaitForListCallsAsync(int count) => Wait.UntilAsync(() => _listCalls.Count >= count, () => $"{count} list calls (have {_listCalls.Count})");
}
