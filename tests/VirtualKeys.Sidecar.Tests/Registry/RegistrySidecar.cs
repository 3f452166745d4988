using System.Net.Http.Json;
using System.Text.Json;
using VirtualKeys.MockProvider;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Registry;
using RegistryKeyBudget = VirtualKeys.Registry.Keys.KeyBudget;
using RegistryKeyLimits = VirtualKeys.Registry.Keys.KeyLimits;
using RegistryProviderType = VirtualKeys.Registry.Keys.ProviderType;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>
/// A registry on a real PostgreSQL database and a sidecar on the real clock wired to it the way the
/// binary is (<see cref="RegistrySidecarWiring"/>), with a mock provider.
/// </summary>
internal sealed class RegistrySidecar : IAsyncDisposable
{
    public const string UpstreamCredential = "sk-registry-upstream-credential-0001";

    private RegistrySidecar(VirtualKeyRegistry registry, MockLlmProvider upstream, SidecarHost host, IQuotaStore quota)
    {
        Registry = registry;
        Quota = quota;
        Upstream = upstream;
        Host = host;
        Client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public VirtualKeyRegistry Registry { get; }

    public MockLlmProvider Upstream { get; }

    public SidecarHost Host { get; }

    public HttpClient Client { get; }

    public IQuotaStore Quota { get; }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static async Task<RegistrySidecar> StartAsync(string connectionString, string kekPath, TimeSpan? fullSyncInterval = null, QuotaMode quotaMode = QuotaMode.Shared)
    {
        var registry = await VirtualKeyRegistry.OpenAsync(connectionString, kekPath, TimeProvider.System, null, Cancel);
        MockLlmProvider? upstream = null;
        try
        {
            upstream = await MockLlmProvider.StartAsync(cancellationToken: Cancel);
            var wiring = RegistrySidecarWiring.Create(registry, new QuotaOptions { Mode = quotaMode }, TimeProvider.System, fullSyncInterval: fullSyncInterval);
            var host = await SidecarHost.StartAsync(
                new SidecarOptions { Port = 0, DefaultMaxOutputTokens = 100, UsageFlushInterval = TimeSpan.FromMilliseconds(200) },
                wiring.Source,
                wiring.Sink,
                TimeProvider.System,
                wiring.Configure,
                cancellationToken: Cancel);
            return new RegistrySidecar(registry, upstream, host, wiring.Quota);
        }
        catch
        {
            if (upstream is not null)
            {
                await upstream.DisposeAsync();
            }

            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>A new key with one fresh token in a namespace of its own, written to the registry.</summary>
    public async Task<(VirtualKeyIdentity Identity, string KeyId, string Token)> AddKeyAsync(
        string defaultModel = "gpt-4o-mini",
        RegistryKeyLimits? limits = null,
        RegistryKeyBudget? budget = null)
    {
        var identity = new VirtualKeyIdentity("ns-" + Guid.NewGuid().ToString("N")[..8], "chat", Guid.NewGuid().ToString());
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        var token = VirtualKeyToken.Generate(keyId);
        await Registry.UpsertAsync(NewUpsert(identity, defaultModel, limits, new TokenChanges([token]), budget: budget), Cancel);
        return (identity, keyId, token.Reveal());
    }

    public static VirtualKeyUpsert NewUpsert(VirtualKeyIdentity identity, string defaultModel, RegistryKeyLimits? limits, TokenChanges? tokens, long generation = 1, RegistryKeyBudget? budget = null) => new(
        identity,
        Generation: generation,
        SpecFingerprint: "spec-" + generation,
        new VirtualKeyConfig
        {
            DefaultModel = defaultModel,
            Limits = limits ?? new RegistryKeyLimits(),
            Budget = budget,
            Providers = [new ProviderConfig("openai", RegistryProviderType.OpenAI, "http://127.0.0.1:1/v1")],
        },
        [new ProviderCredential("openai", UpstreamCredential)],
        tokens);

    public Task<HttpResponseMessage> ResolveAsync(string token) =>
        Client.PostAsJsonAsync("/v1/resolve", new { virtualKey = token }, Cancel);

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement.Clone();

    /// <summary>Resolves until the answer has <paramref name="status"/>, or fails after <paramref name="limit"/>.</summary>
    public async Task<HttpResponseMessage> ResolveUntilAsync(string token, System.Net.HttpStatusCode status, TimeSpan limit)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (true)
        {
            var response = await ResolveAsync(token);
            if (response.StatusCode == status || DateTimeOffset.UtcNow >= deadline)
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(50), Cancel);
        }
    }

    /// <summary>The key's usage totals in the registry once <paramref name="condition"/> holds, or as they are after 15 s.</summary>
    public async Task<UsageTotals> WaitForUsageAsync(string keyId, Func<UsageTotals, bool> condition)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var totals = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, DateTimeOffset.UtcNow, Cancel);
            if (condition(totals) || DateTimeOffset.UtcNow >= deadline)
            {
                return totals;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), Cancel);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
        await Registry.DisposeAsync();
    }
}
