namespace VirtualKeys.Sidecar.Resolve;

public sealed class KeyInfo
{
    public required string Namespace { get; init; }

    public required string Name { get; init; }

    public required string Id { get; init; }
}
