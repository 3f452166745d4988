namespace VirtualKeys.LocalCluster.Storage;

/// <summary>The parts of metadata.ownerReferences[] the garbage collector needs.</summary>
internal sealed record OwnerReference(string Uid, string Kind, string Name, bool BlockOwnerDeletion);
