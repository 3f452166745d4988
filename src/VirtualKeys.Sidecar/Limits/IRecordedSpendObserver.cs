using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>A quota store that takes in spend recorded elsewhere (earlier runs, other replicas).</summary>
public interface IRecordedSpendObserver
{
    /// <summary>The key's spend in its current period becomes at least <paramref name="spentUsd"/>.</summary>
    void ObserveRecordedSpend(string keyId, BudgetPeriod period, decimal spentUsd);
}
