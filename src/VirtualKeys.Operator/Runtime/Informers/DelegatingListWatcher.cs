using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// An <see cref="IListWatcher{T}"/> over two calls of KubernetesClient. KubernetesClient reports a
/// watch ERROR event (such as 410 Gone) through an <c>onError</c> callback and reads on; this
/// adapter ends the stream there and throws the error instead, so the informer cannot miss it.
/// </summary>
public sealed class DelegatingListWatcher<T> : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Func<string?, CancellationToken, Task<ResourceList<T>>> _list;
    private readonly Func<WatchRequest, IAsyncEnumerable<(WatchEventType, T)>> _watch;

    public DelegatingListWatcher(
        string kind,
        Func<string?, CancellationToken, Task<ResourceList<T>>> list,
        Func<WatchRequest, IAsyncEnumerable<(WatchEventType, T)>> watch)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        Kind = kind;
        _list = list ?? throw new ArgumentNullException(nameof(list));
        _watch = watch ?? throw new ArgumentNullException(nameof(watch));
    }

    public string Kind { get; }

    public Task<ResourceList<T>> ListAsync(string? @namespace, CancellationToken cancellationToken) =>
        _list(@namespace, cancellationToken);

    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
        string? @namespace,
        string resourceVersion,
        TimeSpan timeout,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? error = null;
        var request = new WatchRequest(
            @namespace,
            resourceVersion,
            (int)Math.Ceiling(timeout.TotalSeconds),
            e =>
            {
                if (Interlocked.CompareExchange(ref error, e, null) is null)
                {
                    stop.Cancel();
                }
            },
            stop.Token);

        await using var events = _watch(request).GetAsyncEnumerator(stop.Token);
        while (true)
        {
            bool more;
            try
            {
                more = await events.MoveNextAsync();
            }
            catch (OperationCanceledException) when (Volatile.Read(ref error) is not null && !cancellationToken.IsCancellationRequested)
            {
                more = false;
            }

            if (Volatile.Read(ref error) is { } failure)
            {
                ExceptionDispatchInfo.Throw(failure);
            }

            if (!more)
            {
                yield break;
            }

            yield return events.Current;
        }
    }
}
