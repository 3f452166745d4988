using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster.Api;

/// <summary>One page of a list: the items, the revision it reflects, and where the next page starts.</summary>
internal sealed record ListResult(IReadOnlyList<StoredObject> Items, long ResourceVersion, string? Continue, long? RemainingItemCount);
