using Prometheus;

namespace VirtualKeys.Operator.Observability;

/// <summary>The operator's own instruments, beside the controller runtime's <c>vk_controller_*</c> and <c>vk_workqueue_*</c>.</summary>
public sealed class OperatorMetrics
{
    private readonly Gauge _budgetUsedRatio;
    private readonly Gauge _usageSyncLag;
    private readonly Counter _usageWrites;
    private readonly Counter _registryWrites;
    private readonly Gauge _orphanedKeysWithheld;

    public OperatorMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _budgetUsedRatio = factory.CreateGauge(
            "vk_virtualkey_budget_used_ratio",
            "Spend in the current budget period divided by the key's budget cap (1 = exhausted), by namespace and name.",
            ["namespace", "name"]);
        _usageSyncLag = factory.CreateGauge(
            "vk_usage_sync_lag_seconds",
            "After the last usage sync round: how long the oldest usage not yet on a status has waited (0 when every status is current).");
        _usageWrites = factory.CreateCounter(
            "vk_usage_sync_writes_total",
            "Status writes by the usage syncer.");
        _registryWrites = factory.CreateCounter(
            "vk_registry_writes_total",
            "Registry writes by operation: upserts and tombstones sent by the reconciler, and tombstones of orphaned keys (tombstone_orphaned: the resource was deleted without its finalizer).",
            ["operation"]);
        _orphanedKeysWithheld = factory.CreateGauge(
            "vk_orphaned_keys_withheld",
            "Registry keys the last full sweep found without a VirtualKey and did not revoke, because they were more than Operator__OrphanSweepLimit (0 when it revoked them or found none).");
    }

    public void BudgetUsed(string @namespace, string name, double ratio) => _budgetUsedRatio.WithLabels(@namespace, name).Set(ratio);

    public void ForgetBudget(string @namespace, string name) => _budgetUsedRatio.RemoveLabelled(@namespace, name);

    public void UsageSyncLag(TimeSpan lag) => _usageSyncLag.Set(Math.Max(0, lag.TotalSeconds));

    public void UsageWritten() => _usageWrites.Inc();

    public void RegistryWrite(string operation) => _registryWrites.WithLabels(operation).Inc();

    public void OrphanedKeysWithheld(int count) => _orphanedKeysWithheld.Set(count);
}
