namespace VirtualKeys.LocalCluster.Registry;

/// <summary>The scale subresource paths a CRD version declares.</summary>
internal sealed record ScaleSubresource(string SpecReplicasPath, string StatusReplicasPath, string? LabelSelectorPath);
