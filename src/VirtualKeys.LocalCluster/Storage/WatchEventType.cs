namespace VirtualKeys.LocalCluster.Storage;

internal enum WatchEventType
{
    Added,
    Modified,
    Deleted,
}
