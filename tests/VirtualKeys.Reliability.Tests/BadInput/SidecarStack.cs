using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using VirtualKeys.MockProvider;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Registry;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>
/// A real sidecar on the real clock, fed by the encrypted registry on the real PostgreSQL (LISTEN/NOTIFY
/// and all), with a mock OpenAI-compatible provider behind it. Every token and provider key it makes is
/// tracked by the <see cref="SecretLedger"/>, and its log is kept for the ledger to scan.
/// </summary>
internal sealed class SidecarStack : IAsyncDisposable
{
    private readonly PostgresFixture? _ownedDatabase;
    private readonly string _connectionString;
    private readonly string? _ownedKekPath;

    private SidecarStack(PostgresFixture? ownedDatabase, string connectionString, string? ownedKekPath, VirtualKeyRegistry registry, MockLlmProvider upstream, SidecarHost host, CapturedLogs logs)
    {
        _ownedDatabase = ownedDatabase;
        _connectionString = connectionString;
        _ownedKekPath = ownedKekPath;
        Registry = registry;
        Upstream = upstream;
        Host = host;
        Logs = logs;
        // A sidecar listening on every address (0.0.0.0) is reached over loopback here.
        BaseAddress = host.BaseAddress.Host == "0.0.0.0" ? new UriBuilder(host.BaseAddress) { Host = "127.0.0.1" }.Uri : host.BaseAddress;
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public VirtualKeyRegistry Registry { get; }

    public MockLlmProvider Upstream { get; }

    public SidecarHost Host { get; }

    public CapturedLogs Logs { get; }

    public HttpClient Client { get; }

    public Uri BaseAddress { get; }

    /// <summary>The provider key stored for every key of this stack; tracked by the ledger.</summary>
    public string ProviderCredential { get; } = "sk-reliability-upstream-" + Guid.NewGuid().ToString("N");

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static async Task<SidecarStack> StartAsync(PostgresFixture postgres, string hint, Action<SidecarOptions>? configure = null, Action<WebApplicationBuilder>? configureBuilder = null)
    {
        var connectionString = await postgres.CreateDatabaseAsync(hint, Cancel);
        var kek = Path.Combine(Path.GetTempPath(), "vk-reliability-kek-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kek);
        return await StartAsync(postgres, connectionString, kek, ownsDatabase: true, configure, configureBuilder);
    }

    /// <summary>A sidecar on a registry someone else owns (e.g. the one an operator writes).</summary>
    public static Task<SidecarStack> AttachAsync(string connectionString, string kekPath, Action<SidecarOptions>? configure = null) =>
        StartAsync(null, connectionString, kekPath, ownsDatabase: false, configure, null);

    private static async Task<SidecarStack> StartAsync(PostgresFixture? postgres, string connectionString, string kek, bool ownsDatabase, Action<SidecarOptions>? configure, Action<WebApplicationBuilder>? configureBuilder)
    {
        var registry = await VirtualKeyRegistry.OpenAsync(connectionString, kek, TimeProvider.System, null, Cancel);
        MockLlmProvider? upstream = null;
        try
        {
            upstream = await MockLlmProvider.StartAsync(cancellationToken: Cancel);
            // Usage within a second (the default batches for 10 s): scenarios read it back from the registry.
            var options = new SidecarOptions { Port = 0, DefaultMaxOutputTokens = 100, UsageFlushInterval = TimeSpan.FromSeconds(1) };
            configure?.Invoke(options);
            var logs = new CapturedLogs();
            var quota = new LocalQuotaStore(TimeProvider.System);
            var host = await SidecarHost.StartAsync(
                options,
                new RegistryKeySnapshotSource(registry, quota: quota),
                new RegistryUsageSink(registry),
                TimeProvider.System,
                builder =>
                {
                    builder.Services.Replace(ServiceDescriptor.Singleton<IQuotaStore>(quota));
                    builder.Logging.SetMinimumLevel(LogLevel.Debug);
                    builder.Logging.AddProvider(logs);
                    configureBuilder?.Invoke(builder);
                },
                cancellationToken: Cancel);
            var stack = new SidecarStack(ownsDatabase ? postgres : null, connectionString, ownsDatabase ? kek : null, registry, upstream, host, logs);
            SecretLedger.Track(stack.ProviderCredential);
            return stack;
        }
        catch
        {
            if (upstream is not null)
            {
                await upstream.DisposeAsync();
            }

            await registry.DisposeAsync();
            if (ownsDatabase)
            {
                File.Delete(kek);
            }

            throw;
        }
    }

    /// <summary>A new key with one fresh token, in a namespace of its own, written to the registry.</summary>
    public async Task<StackKey> AddKeyAsync(string name = "chat", Func<VirtualKeyConfig, VirtualKeyConfig>? customize = null)
    {
        var identity = new VirtualKeyIdentity("ns-" + Guid.NewGuid().ToString("N")[..8], name, Guid.NewGuid().ToString());
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        var token = VirtualKeyToken.Generate(keyId);
        SecretLedger.Track(token.Reveal());
        var config = new VirtualKeyConfig
        {
            DefaultModel = "gpt-4o-mini",
            Providers = [new ProviderConfig("openai", VirtualKeys.Registry.Keys.ProviderType.OpenAI, Upstream.OpenAIBaseUrl)],
        };
        var key = new StackKey(identity, keyId, token.Reveal(), customize is null ? config : customize(config));
        await WriteAsync(key, 1, new TokenChanges([token]));
        await WaitUntilServedAsync(key.Token);
        return key;
    }

    /// <summary>Waits until the sidecar's snapshot has the token (NOTIFY takes a moment).</summary>
    public async Task WaitUntilServedAsync(string token)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await ProbeAsync(token)).Status == 401)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The sidecar did not learn of a new key within 20s.");
            }

            await Task.Delay(20, Cancel);
        }
    }

    /// <summary>
    /// What the sidecar thinks of a token, without opening a decision: it asks for a model name the
    /// sidecar refuses only after authentication, so 400 means the key works, 401 or 403 that it is refused.
    /// </summary>
    public async Task<(int Status, string? Code)> ProbeAsync(string token)
    {
        var probe = new System.Text.Json.Nodes.JsonObject { ["virtualKey"] = token, ["model"] = new string('m', 300) }.ToJsonString();
        using var response = await Client.PostAsync("/v1/resolve", new StringContent(probe, System.Text.Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        SecretLedger.Observe("sidecar probe answer", text);
        using var document = System.Text.Json.JsonDocument.Parse(text);
        var code = document.RootElement.TryGetProperty("error", out var error) ? error.GetProperty("code").GetString() : null;
        return ((int)response.StatusCode, code);
    }

    /// <summary>Writes the key's config again as a new generation, with token changes.</summary>
    public Task<UpsertResult> WriteAsync(StackKey key, long generation, TokenChanges? tokens = null, VirtualKeyConfig? config = null) =>
        Registry.UpsertAsync(
            new VirtualKeyUpsert(
                key.Identity,
                generation,
                "spec-" + generation,
                config ?? key.Config,
                [new VirtualKeys.Registry.Keys.ProviderCredential("openai", ProviderCredential)],
                tokens),
            Cancel);

    public async ValueTask DisposeAsync()
    {
        SecretLedger.Observe("sidecar log", Logs.All);
        await RegistryTables.ObserveAsync(_connectionString, "in-process sidecar", CancellationToken.None);
        Client.Dispose();
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
        await Registry.DisposeAsync();
        if (_ownedKekPath is not null)
        {
            File.Delete(_ownedKekPath);
        }

        if (_ownedDatabase is not null)
        {
            await _ownedDatabase.DropDatabaseAsync(_connectionString);
        }
    }
}
