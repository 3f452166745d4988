using System.Globalization;
using VirtualKeys.Model;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// The demo's stand-in for the sidecar's registry-backed usage sink, which VirtualKeys.Sidecar does
/// not ship yet: each usage record becomes a registry usage event (an aggregated refusal becomes one
/// event per refused request, with the cause as status.usage.rejections names it).
/// </summary>
internal sealed class RegistryUsageSink(VirtualKeyRegistry registry) : IUsageSink
{
    public async Task WriteAsync(IReadOnlyList<UsageRecord> batch, CancellationToken cancellationToken)
    {
        var events = new List<UsageEvent>();
        foreach (var record in batch)
        {
            if (record.Outcome == UsageOutcome.Rejected)
            {
                var cause = Cause(record.Detail);
                for (var i = 0; i < Math.Max(1, record.Count); i++)
                {
                    events.Add(new UsageEvent(
                        string.Create(CultureInfo.InvariantCulture, $"{record.RecordId}:{i}"),
                        record.KeyId, record.Timestamp, record.Model, record.Provider, 0, 0, 0, cause));
                }
            }
            else
            {
                events.Add(new UsageEvent(record.RecordId, record.KeyId, record.Timestamp, record.Model, record.Provider, record.InputTokens, record.OutputTokens, record.CostUsd));
            }
        }

        if (events.Count > 0)
        {
            await registry.RecordUsageAsync(events, cancellationToken);
        }
    }

    private static string Cause(string? refusalCode) => refusalCode switch
    {
        "rate_limit_rpm" => RejectionCauses.RequestsPerMinute,
        "rate_limit_tpm" => RejectionCauses.TokensPerMinute,
        "rate_limit_parallel" => RejectionCauses.Parallel,
        "budget_exhausted" => RejectionCauses.Budget,
        "key_expired" => RejectionCauses.Expired,
        "key_suspended" => RejectionCauses.Suspended,
        "model_not_allowed" or "model_not_found" => RejectionCauses.ModelNotAllowed,
        { Length: > 0 } other => other,
        _ => "other",
    };
}
