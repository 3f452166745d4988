namespace VirtualKeys.LocalCluster.Handlers;

internal enum ResponseForm
{
    Json,
    Table,
    PartialObjectMetadata,
}
