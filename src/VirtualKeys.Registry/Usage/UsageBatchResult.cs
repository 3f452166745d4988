namespace VirtualKeys.Registry.Usage;

/// <param name="Recorded">Events seen for the first time and added to the totals.</param>
/// <param name="Duplicates">Events whose request id was already recorded: ignored.</param>
public sealed record UsageBatchResult(int Recorded, int Duplicates);
