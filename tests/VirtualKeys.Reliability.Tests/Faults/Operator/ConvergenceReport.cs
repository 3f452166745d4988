namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>What one pass of <see cref="ConvergenceCheck"/> found.</summary>
/// <param name="Problems">Each way the world differs from the specs, one line each, never a secret.</param>
/// <param name="Orphans">Registry rows without a live VirtualKey plus token Secrets without their owner.</param>
/// <param name="TokensInGrace">Rotated-out tokens still accepted because their grace period has not ended.</param>
internal sealed record ConvergenceReport(IReadOnlyList<string> Problems, int Orphans, int LiveKeys, int TokensInGrace, int Tombstones)
{
    public bool Converged => Problems.Count == 0;
}
