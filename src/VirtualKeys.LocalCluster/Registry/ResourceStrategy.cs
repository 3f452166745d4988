namespace VirtualKeys.LocalCluster.Registry;

/// <summary>Which built-in rules (defaulting, validation, table columns) a resource follows.</summary>
internal enum ResourceStrategy
{
    Custom,
    Namespace,
    Secret,
    ConfigMap,
    Event,
    Lease,
    CustomResourceDefinition,
}
