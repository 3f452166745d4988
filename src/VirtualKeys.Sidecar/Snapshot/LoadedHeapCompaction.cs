using System.Runtime;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// One compacting collection after a large snapshot is built. Reading thousands of keys (rows, JSON,
/// decrypted credentials) keeps so much alive at once that it is promoted to the oldest generation and
/// dies there; background collections sweep that space but never compact or return it, so without this
/// the sidecar would hold tens of MiB of free heap for the rest of its life.
/// </summary>
internal static class LoadedHeapCompaction
{
    /// <summary>Below this many keys the load's garbage is too small to be worth a blocking collection.</summary>
    public const int MinimumKeys = 1000;

    public static void AfterLoad(int keyCount)
    {
        if (keyCount < MinimumKeys)
        {
            return;
        }

        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
