using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;

namespace VirtualKeys.Sidecar.Tests.Registry;

public sealed class RefusedUsageTests(SidecarRegistryFixture database) : IClassFixture<SidecarRegistryFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_record_PostgreSQL_cannot_store_is_reported_as_refused_not_as_an_unreachable_registry()
    {
        await using var sidecar = await RegistrySidecar.StartAsync(database.ConnectionString, database.KekPath);
        var sink = new RegistryUsageSink(sidecar.Registry);
        var record = new UsageRecord
        {
            RecordId = Guid.NewGuid().ToString("N"),
            KeyId = "abcdefghijklmnop",
            Namespace = "team-a",
            Name = "app",
            Outcome = UsageOutcome.Success,
            Model = "gpt\u0000mini",
            InputTokens = 3,
            OutputTokens = 4,
            Timestamp = DateTimeOffset.UtcNow,
        };

        // A text value with a NUL character: PostgreSQL refuses it (SQLSTATE 22021), every time.
        var refused = await Assert.ThrowsAsync<UsageRecordsRefusedException>(() => sink.WriteAsync([record], Cancel));

        Assert.Contains("refuses this batch of 1 usage records", refused.Message, StringComparison.Ordinal);
        await sink.WriteAsync([record with { RecordId = Guid.NewGuid().ToString("N"), Model = "gpt-4o-mini" }], Cancel);
    }
}
