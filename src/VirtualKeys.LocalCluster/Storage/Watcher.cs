using System.Threading.Channels;

namespace VirtualKeys.LocalCluster.Storage;

/// <summary>
/// A subscription to one storage bucket. The store writes events in commit order under its
/// lock; the watch handler drains them at its own pace and applies selectors.
/// </summary>
internal sealed class Watcher
{
    private readonly Channel<WatchEvent> _channel = Channel.CreateUnbounded<WatchEvent>(
        new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

    public Watcher(string storageKey, string? ns, long startRevision)
    {
        StorageKey = storageKey;
        Namespace = ns;
        StartRevision = startRevision;
    }

    public string StorageKey { get; }

    public string? Namespace { get; }

    /// <summary>The store's revision when the watch began: a bookmark may claim at least this.</summary>
    public long StartRevision { get; }

    public ChannelReader<WatchEvent> Events => _channel.Reader;

    /// <summary>How many synthetic ADDED events for the initial state lead the stream.</summary>
    public int InitialEventCount { get; internal set; }

    internal bool Offer(WatchEvent watchEvent) => _channel.Writer.TryWrite(watchEvent);

    internal void Close() => _channel.Writer.TryComplete();

    internal bool Matches(StoredObject stored) =>
        stored.StorageKey == StorageKey && (Namespace is null || Namespace == stored.Namespace);
}
