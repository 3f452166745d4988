using System.Threading.Channels;
using k8s;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

internal sealed class ScriptedWatch<T>(string? @namespace, string resourceVersion)
{
    private readonly Channel<(WatchEventType, T)> _events = Channel.CreateUnbounded<(WatchEventType, T)>();

    public string? Namespace { get; } = @namespace;

    public string ResourceVersion { get; } = resourceVersion;

    public void Send(WatchEventType type, T obj) => _events.Writer.TryWrite((type, obj));

    /// <summary>The server ends the watch (its timeout, or a dropped connection).</summary>
    public void Close() => _events.Writer.TryComplete();

    public void Fail(Exception error) => _events.Writer.TryComplete(error);

    public IAsyncEnumerable<(WatchEventType, T)> ReadAllAsync(CancellationToken cancellationToken) =>
        _events.Reader.ReadAllAsync(cancellationToken);
}
