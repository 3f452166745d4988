namespace VirtualKeys.LocalCluster.Api;

/// <summary>The parts of meta/v1 DeleteOptions this server honours.</summary>
internal sealed record DeleteOptions(
    string? PropagationPolicy = null,
    string? PreconditionUid = null,
    string? PreconditionResourceVersion = null,
    bool DryRun = false,
    bool? OrphanDependents = null)
{
    public static DeleteOptions Background { get; } = new("Background");
}
