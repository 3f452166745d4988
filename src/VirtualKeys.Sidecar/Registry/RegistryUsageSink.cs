using System.Globalization;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.Sidecar.Registry;

/// <summary>
/// Writes the sidecar's usage to the registry. Failures propagate so the sidecar's buffer keeps the
/// batch and sends it again; the registry counts each request id once, so a resent batch is harmless.
/// </summary>
/// <remarks>
/// A usage event stands for exactly one request, so an aggregated refusal record (Count &gt; 1)
/// becomes one event per refused request, with ids derived from the record's id so they stay
/// stable across retries.
/// </remarks>
public sealed class RegistryUsageSink : IUsageSink
{
    private readonly VirtualKeyRegistry _registry;

    public RegistryUsageSink(VirtualKeyRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _registry = registry;
    }

    public async Task WriteAsync(IReadOnlyList<UsageRecord> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var events = ToEvents(batch);
        if (events.Count > 0)
        {
            await _registry.RecordUsageAsync(events, cancellationToken);
        }
    }

    internal static List<UsageEvent> ToEvents(IReadOnlyList<UsageRecord> batch)
    {
        var events = new List<UsageEvent>(batch.Count);
        foreach (var record in batch)
        {
            if (record.Outcome == UsageOutcome.Rejected)
            {
                var cause = RejectionCause(record.Detail);
                var count = Math.Max(1, record.Count);
                for (var i = 0; i < count; i++)
                {
                    var id = count == 1 ? record.RecordId : string.Create(CultureInfo.InvariantCulture, $"{record.RecordId}:{i}");
                    events.Add(new UsageEvent(id, record.KeyId, record.Timestamp, record.Model, record.Provider, 0, 0, 0, cause));
                }
            }
            else
            {
                events.Add(new UsageEvent(
                    record.RecordId, record.KeyId, record.Timestamp, record.Model, record.Provider, record.InputTokens, record.OutputTokens, record.CostUsd));
            }
        }

        return events;
    }

    /// <summary>
    /// The sidecar's refusal codes in the names status.usage.rejections uses (VirtualKeys.Model's
    /// RejectionCauses, spelled out here so the sidecar binary does not carry the Kubernetes client).
    /// </summary>
    internal static string RejectionCause(string? refusalCode) => refusalCode switch
    {
        "rate_limit_rpm" => "rpm",
        "rate_limit_tpm" => "tpm",
        "rate_limit_parallel" => "parallel",
        "budget_exhausted" => "budget",
        "key_expired" => "expired",
        "key_suspended" => "suspended",
        "model_not_allowed" or "model_not_found" => "model",
        { Length: > 0 } other => other,
        _ => "other",
    };
}
