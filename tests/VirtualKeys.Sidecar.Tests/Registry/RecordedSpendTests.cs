using System.Net;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Limits;
using RegistryKeyBudget = VirtualKeys.Registry.Keys.KeyBudget;

namespace VirtualKeys.Sidecar.Tests.Registry;

public sealed class RecordedSpendTests(SidecarRegistryFixture database) : IClassFixture<SidecarRegistryFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(QuotaMode.Shared)]
    [InlineData(QuotaMode.Local)]
    public async Task A_key_added_while_the_sidecar_runs_starts_from_the_spend_already_recorded_for_it(QuotaMode mode)
    {
        await using var sidecar = await RegistrySidecar.StartAsync(database.ConnectionString, database.KekPath, quotaMode: mode);
        var identity = new VirtualKeyIdentity("ns-" + Guid.NewGuid().ToString("N")[..8], "chat", Guid.NewGuid().ToString());
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        await sidecar.Registry.RecordUsageAsync(
            [new UsageEvent(Guid.NewGuid().ToString(), keyId, DateTimeOffset.UtcNow, "gpt-4o-mini", "openai", 1000, 1000, 1.50m)],
            Cancel);
        var token = VirtualKeyToken.Generate(keyId);
        await sidecar.Registry.UpsertAsync(
            RegistrySidecar.NewUpsert(identity, "gpt-4o-mini", null, new TokenChanges([token]), budget: new RegistryKeyBudget(1.00m, BudgetPeriodKind.Monthly)),
            Cancel);

        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(5);
        var response = await sidecar.ResolveAsync(token.Reveal());
        while (response.StatusCode == HttpStatusCode.Unauthorized && DateTimeOffset.UtcNow < deadline)
        {
            response.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(50), Cancel);
            response = await sidecar.ResolveAsync(token.Reveal());
        }

        using (response)
        {
            Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
            var body = await RegistrySidecar.ReadJsonAsync(response);
            Assert.Equal("budget_exhausted", body.GetProperty("error").GetProperty("code").GetString());
        }
    }
}
