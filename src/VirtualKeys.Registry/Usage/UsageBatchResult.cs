namespace VirtualKeys.Registry.Usage;

/// <param name="Recorded">Events seen for the first time and added to the totals.</param>
/// <param name="Duplicates">Events whose request id was already recorded: ignored.</param>
public sealed record UsageBatchResult(int Recorded, int Duplicates)
{
    /// <summary>The registry's change version when the batch was written (see VirtualKeyRegistry.GetChangeVersionAsync); 0 for an empty batch.</summary>
    public long ChangeVersion { get; init; }

    /// <summary>The batch carried a replica's presence and refreshed it (see <see cref="Quotas.ReplicaPresence"/>).</summary>
    public bool Present { get; init; }

    /// <summary>Live replicas when the batch was written; 0 when it carried no presence.</summary>
    public int LiveReplicas { get; init; }
}
