using Npgsql;
using VirtualKeys.MockProvider;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Reliability.Tests.Support;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// What the sidecar scenarios share: a registry on a real PostgreSQL database (opened here to write
/// keys and read usage back with SQL), its KEK file, a mock provider that insists on one credential,
/// and sidecar processes started against them.
/// </summary>
internal sealed class SidecarRig : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly List<SidecarProcess> _sidecars = [];

    private SidecarRig(string connectionString, string kekPath, string upstreamCredential, VirtualKeyRegistry registry, MockLlmProvider upstream)
    {
        _connectionString = connectionString;
        KekPath = kekPath;
        UpstreamCredential = upstreamCredential;
        Registry = registry;
        Upstream = upstream;
    }

    public string KekPath { get; }

    public string UpstreamCredential { get; }

    public VirtualKeyRegistry Registry { get; }

    public MockLlmProvider Upstream { get; }

    public static async Task<SidecarRig> StartAsync(string connectionString, CancellationToken cancellationToken)
    {
        var kekPath = Path.Combine(Path.GetTempPath(), "vk-kek-reliability-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kekPath);
        var credential = "sk-reliability-upstream-" + Guid.NewGuid().ToString("N");
        SecretLedger.Track(credential);
        VirtualKeyRegistry? registry = null;
        try
        {
            registry = await VirtualKeyRegistry.OpenAsync(connectionString, kekPath, TimeProvider.System, null, cancellationToken);
            var upstream = await MockLlmProvider.StartAsync(new MockLlmProviderOptions { ExpectedCredential = credential }, cancellationToken);
            return new SidecarRig(connectionString, kekPath, credential, registry, upstream);
        }
        catch
        {
            if (registry is not null)
            {
                await registry.DisposeAsync();
            }

            File.Delete(kekPath);
            throw;
        }
    }

    /// <summary>A key in a namespace of its own with one fresh token, served by the mock provider.</summary>
    public async Task<RigKey> AddKeyAsync(string name, string defaultModel, KeyLimits? limits, KeyBudget? budget, CancellationToken cancellationToken)
    {
        var identity = new VirtualKeyIdentity("reliability-" + Guid.NewGuid().ToString("N")[..8], name, Guid.NewGuid().ToString());
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        var token = VirtualKeyToken.Generate(keyId);
        var raw = token.Reveal();
        SecretLedger.Track(raw);
        await Registry.UpsertAsync(
            new VirtualKeyUpsert(
                identity,
                Generation: 1,
                SpecFingerprint: "reliability-1",
                new VirtualKeyConfig
                {
                    DefaultModel = defaultModel,
                    Limits = limits ?? new KeyLimits(),
                    Budget = budget,
                    Providers = [new ProviderConfig("mock", ProviderType.OpenAI, Upstream.OpenAIBaseUrl)],
                },
                [new ProviderCredential("mock", UpstreamCredential)],
                new TokenChanges([token])),
            cancellationToken);
        return new RigKey(identity, keyId, raw);
    }

    public async Task<SidecarProcess> StartSidecarAsync(string name, IReadOnlyDictionary<string, string>? settings, CancellationToken cancellationToken)
    {
        var sidecar = await SidecarProcess.StartAsync(name, _connectionString, KekPath, settings, cancellationToken);
        _sidecars.Add(sidecar);
        return sidecar;
    }

    /// <summary>
    /// Every request the registry's usage events record for a key, an aggregated refusal row counted as
    /// the requests it stands for. A fresh connection each time: pooled ones die with a killed server.
    /// </summary>
    public async Task<IReadOnlyList<RecordedEvent>> EventsAsync(string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT CASE WHEN e.request_count = 1 THEN e.request_id ELSE e.request_id || ':' || n END, e.input_tokens, e.output_tokens, e.cost_usd, e.rejection
            FROM vk.usage_events e CROSS JOIN generate_series(1, e.request_count) AS n
            WHERE e.key_id = @key
            """,
            connection);
        command.Parameters.AddWithValue("key", keyId);
        var events = new List<RecordedEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new RecordedEvent(
                reader.GetString(0),
                reader.GetInt64(1),
                reader.GetInt64(2),
                reader.GetDecimal(3),
                reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return events;
    }

    /// <summary>
    /// The key's all-time total as the registry reads it (<c>vk.usage_rows</c>: its monthly rows, and
    /// the usage still pending a fold); zeros when nothing was recorded.
    /// </summary>
    public async Task<RecordedTotal> TotalAsync(string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(cost_usd), 0),
                   (SELECT coalesce(jsonb_object_agg(cause, n), '{}'::jsonb)::text
                    FROM (SELECT r.key AS cause, sum(r.value::bigint) AS n
                          FROM vk.usage_rows(ARRAY[@key], 'total', now()) t, jsonb_each_text(t.rejections) r
                          GROUP BY r.key) causes)
            FROM vk.usage_rows(ARRAY[@key], 'total', now())
            """,
            connection);
        command.Parameters.AddWithValue("key", keyId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new RecordedTotal(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDecimal(3), reader.GetString(4));
    }

    /// <summary>Polls until <paramref name="done"/> holds for the key's events; returns how long that took (null: not within the limit).</summary>
    public async Task<TimeSpan?> WaitForEventsAsync(string keyId, Func<IReadOnlyList<RecordedEvent>, bool> done, TimeSpan limit, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        while (true)
        {
            try
            {
                if (done(await EventsAsync(keyId, cancellationToken)))
                {
                    return DateTimeOffset.UtcNow - started;
                }
            }
            catch (NpgsqlException)
            {
                // Still recovering.
            }

            if (DateTimeOffset.UtcNow - started > limit)
            {
                return null;
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Hands every row of every registry table, as text, to the secret ledger.</summary>
    public Task ObserveRegistryTablesAsync(string scenario, CancellationToken cancellationToken) =>
        RegistryTables.ObserveAsync(_connectionString, scenario, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var sidecar in _sidecars)
        {
            await sidecar.DisposeAsync();
        }

        await Upstream.DisposeAsync();
        await Registry.DisposeAsync();
        File.Delete(KekPath);
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
