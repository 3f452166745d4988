using System.Text;

namespace VirtualKeys.LocalCluster.Storage;

/// <summary>
/// One change, as kept in the history window and handed to watchers. The wire frame is built
/// once and shared by every watcher that serves the storage form.
/// </summary>
internal sealed class WatchEvent
{
    private byte[]? _frame;

    public WatchEvent(WatchEventType type, StoredObject current, StoredObject? previous)
    {
        Type = type;
        Object = current;
        Previous = previous;
    }

    public WatchEventType Type { get; }

    public StoredObject Object { get; }

    /// <summary>The object before a modification, so selector watches can turn it into ADDED/DELETED.</summary>
    public StoredObject? Previous { get; }

    public long ResourceVersion => Object.ResourceVersion;

    public byte[] Frame => _frame ??= BuildFrame(TypeName(Type), Object.Json);

    public static string TypeName(WatchEventType type) => type switch
    {
        WatchEventType.Added => "ADDED",
        WatchEventType.Modified => "MODIFIED",
        _ => "DELETED",
    };

    public static byte[] BuildFrame(string type, ReadOnlySpan<byte> objectJson)
    {
        var prefix = Encoding.UTF8.GetBytes("{\"type\":\"" + type + "\",\"object\":");
        var frame = new byte[prefix.Length + objectJson.Length + 2];
        prefix.CopyTo(frame, 0);
        objectJson.CopyTo(frame.AsSpan(prefix.Length));
        frame[^2] = (byte)'}';
        frame[^1] = (byte)'\n';
        return frame;
    }
}
