using VirtualKeys.Model;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;

namespace VirtualKeys.Sidecar.Tests.Registry;

public sealed class RegistryUsageSinkTests
{
    [Theory]
    [InlineData("rate_limit_rpm", RejectionCauses.RequestsPerMinute)]
    [InlineData("rate_limit_tpm", RejectionCauses.TokensPerMinute)]
    [InlineData("rate_limit_parallel", RejectionCauses.Parallel)]
    [InlineData("budget_exhausted", RejectionCauses.Budget)]
    [InlineData("key_expired", RejectionCauses.Expired)]
    [InlineData("key_suspended", RejectionCauses.Suspended)]
    [InlineData("model_not_allowed", RejectionCauses.ModelNotAllowed)]
    [InlineData("model_not_found", RejectionCauses.ModelNotAllowed)]
    public void Refusals_are_recorded_under_the_cause_names_status_usage_rejections_uses(string refusalCode, string cause)
    {
        var events = RegistryUsageSink.ToEvents([Refusal(refusalCode, count: 1)]);

        Assert.Equal(cause, Assert.Single(events).RejectionCause);
    }

    [Fact]
    public void An_aggregated_refusal_becomes_one_event_carrying_its_count_under_the_records_id()
    {
        var record = Refusal("rate_limit_rpm", count: 4);

        var first = Assert.Single(RegistryUsageSink.ToEvents([record]));
        var retried = Assert.Single(RegistryUsageSink.ToEvents([record]));

        Assert.Equal(4, first.Count);
        Assert.Equal(RejectionCauses.RequestsPerMinute, first.RejectionCause);
        Assert.Equal(record.RecordId, first.RequestId);
        Assert.Equal(first, retried);
    }

    private static UsageRecord Refusal(string code, int count) => new()
    {
        RecordId = Guid.NewGuid().ToString("N"),
        KeyId = "abcdefghijklmnop",
        Namespace = "team-a",
        Name = "app",
        Outcome = UsageOutcome.Rejected,
        Detail = code,
        Count = count,
        Timestamp = DateTimeOffset.UnixEpoch,
    };
}
