using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Resolve;

namespace VirtualKeys.Sidecar.Metering;

/// <summary>Settles a decision once: quota, usage record (in the place reserved at admission) and metrics.</summary>
internal sealed class UsageRecorder
{
    private readonly IQuotaStore _quota;
    private readonly UsageBuffer _buffer;
    private readonly SidecarMetrics _metrics;
    private readonly TimeProvider _time;

    public UsageRecorder(IQuotaStore quota, UsageBuffer buffer, SidecarMetrics metrics, [FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time)
    {
        _quota = quota;
        _buffer = buffer;
        _metrics = metrics;
        _time = time;
    }

    /// <summary>The caller must have won <see cref="Decision.TryClaim"/>.</summary>
    public async ValueTask<decimal> SettleAsync(Decision decision, Completion completion)
    {
        var input = Math.Max(0, completion.InputTokens);
        var output = Math.Max(0, completion.OutputTokens);
        var cost = decision.Price.Cost(input, output, completion.CachedInputTokens, completion.CacheWriteInputTokens, completion.CacheWriteOneHourInputTokens);
        var outcome = completion.Outcome;
        var provider = completion.Provider;
        var detail = completion.Detail;
        var estimated = completion.Estimated;
        var latency = completion.LatencyMs;

        await _quota.SettleAsync(decision.Ticket, input + output, cost, CancellationToken.None);
        _buffer.Commit(new UsageRecord
        {
            RecordId = decision.Id,
            KeyId = decision.Key.KeyId,
            Namespace = decision.Key.Entry.Namespace,
            Name = decision.Key.Entry.Name,
            Model = decision.Model,
            Provider = provider,
            InputTokens = input,
            OutputTokens = output,
            CostUsd = cost,
            Outcome = outcome,
            Detail = detail,
            Estimated = estimated,
            LatencyMs = latency,
            KeyHasBudget = decision.Key.Entry.Budget is not null,
            Timestamp = _time.GetUtcNow(),
        });

        _metrics.Completed(decision.Key, decision.ModelLabel, OutcomeLabel(outcome), input, output, cost);
        if (estimated)
        {
            _metrics.UsageEstimated();
        }

        if (decision.Key.Entry.Budget is { } budget)
        {
            _metrics.BudgetSpent(decision.Key, _quota.GetState(decision.Key.KeyId).SpentUsd, budget.MaxCostUsd);
        }

        return cost;
    }

    private static string OutcomeLabel(UsageOutcome outcome) => outcome switch
    {
        UsageOutcome.Success => "success",
        UsageOutcome.UpstreamError => "upstream_error",
        UsageOutcome.Expired => "expired",
        UsageOutcome.Cancelled => "cancelled",
        _ => "rejected",
    };

    /// <summary>How a decision ended.</summary>
    internal readonly record struct Completion(
        long InputTokens,
        long OutputTokens,
        UsageOutcome Outcome,
        string? Detail = null,
        string? Provider = null,
        double? LatencyMs = null,
        bool Estimated = false)
    {
        /// <summary>Of <see cref="InputTokens"/>, read from the provider's prompt cache: priced at the table's cached-input price.</summary>
        public long CachedInputTokens { get; init; }

        /// <summary>Of <see cref="InputTokens"/>, written to the prompt cache: priced at the table's cache-write price.</summary>
        public long CacheWriteInputTokens { get; init; }

        /// <summary>Of <see cref="CacheWriteInputTokens"/>, kept for an hour: priced at the table's 1-hour cache-write price.</summary>
        public long CacheWriteOneHourInputTokens { get; init; }
    }
}
