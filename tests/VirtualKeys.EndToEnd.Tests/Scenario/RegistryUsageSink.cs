using VirtualKeys.Registry;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.EndToEnd.Tests.Scenario;

/// <summary>
/// Writes the sidecar's usage records into the registry, where the operator's usage syncer picks
/// them up. Refusals are left out: the scenario sends nothing the sidecar refuses, and mapping
/// refusal codes to status causes belongs to the sidecar's own sink once it ships.
/// </summary>
internal sealed class RegistryUsageSink(VirtualKeyRegistry registry) : IUsageSink
{
    public async Task WriteAsync(IReadOnlyList<UsageRecord> batch, CancellationToken cancellationToken)
    {
        var events = batch
            .Where(record => record.Outcome != UsageOutcome.Rejected)
            .Select(record => new UsageEvent(record.RecordId, record.KeyId, record.Timestamp, record.Model, record.Provider, record.InputTokens, record.OutputTokens, record.CostUsd))
            .ToList();
        if (events.Count > 0)
        {
            await registry.RecordUsageAsync(events, cancellationToken);
        }
    }
}
