using System.Data;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Notifications;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry;

/// <summary>
/// The encrypted registry of virtual keys in PostgreSQL: keys, their encrypted provider credentials,
/// token hashes and usage. Every key change is one transaction that also NOTIFYs
/// <see cref="RegistryChangeListener.Channel"/>.
/// </summary>
public sealed partial class VirtualKeyRegistry : IAsyncDisposable
{
    private const string KeyColumns =
        """
        id AS Id, namespace AS Namespace, name AS Name, uid AS Uid, key_id AS KeyId, generation AS Generation,
        state AS State, spec_fingerprint AS SpecFingerprint, config::text AS Config, change_version AS ChangeVersion,
        created_at AS CreatedAt, updated_at AS UpdatedAt, tombstoned_at AS TombstonedAt
        """;

    /// <summary>
    /// How long after its grace period a rotated-out token's hash still comes with the lists a
    /// sidecar serves from (<see cref="ListLiveKeysAsync"/>, <see cref="ListChangedSinceAsync"/>): a
    /// client still sending it is told the token was rotated rather than that it is unknown. After
    /// that, once a sidecar re-reads the key, it answers as unknown (401 either way, no longer
    /// counted against the key), and a sidecar does not hold a hash per rotation for ever. The
    /// registry keeps every hash: a stale copy of an old token (a restored Secret) finds its row and
    /// is never registered again as new. Reads of one key return them all.
    /// </summary>
    public static readonly TimeSpan RetiredTokensListedFor = TimeSpan.FromDays(7);

    private readonly RegistryDatabase _database;
    private readonly CredentialProtector _protector;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly bool _ownsDependencies;
    private readonly UsageStore _usage;

    public VirtualKeyRegistry(
        RegistryDatabase database,
        CredentialProtector protector,
        TimeProvider? timeProvider = null,
        ILogger<VirtualKeyRegistry>? logger = null)
        : this(database, protector, timeProvider, logger, ownsDependencies: false)
    {
    }

    private VirtualKeyRegistry(
        RegistryDatabase database,
        CredentialProtector protector,
        TimeProvider? timeProvider,
        ILogger? logger,
        bool ownsDependencies)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(protector);
        _database = database;
        _protector = protector;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _ownsDependencies = ownsDependencies;
        _usage = new UsageStore(database, _timeProvider);
        Quotas = new QuotaLedger(database);
    }

    public RegistryDatabase Database => _database;

    public CredentialProtector Protector => _protector;

    /// <summary>The shared counters sidecar replicas lease their quotas from.</summary>
    public QuotaLedger Quotas { get; }

    /// <summary>
    /// Start-up in one call: checks the connection string, loads the KEK, applies migrations (or fails
    /// clearly on a newer schema) and checks the KEK opens the key ring. The registry owns and disposes
    /// what it created.
    /// </summary>
    /// <exception cref="RegistryUnavailableException">Malformed connection string, or PostgreSQL unreachable.</exception>
    /// <exception cref="RegistrySchemaException">The schema is newer than this binary.</exception>
    /// <exception cref="RegistryProtectionException">The KEK file is unusable or does not open the key ring.</exception>
    public static Task<VirtualKeyRegistry> OpenAsync(
        string connectionString,
        string keyEncryptionKeyPath,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        CancellationToken cancellationToken) =>
        OpenAsync(connectionString, keyEncryptionKeyPath, [], timeProvider, loggerFactory, cancellationToken);

    /// <summary>As above, also accepting the previous KEKs for reading while a KEK replacement rolls out.</summary>
    /// <param name="previousKeyEncryptionKeyPaths">Registry:PreviousKekFiles; blank entries are ignored.</param>
    public static async Task<VirtualKeyRegistry> OpenAsync(
        string connectionString,
        string keyEncryptionKeyPath,
        IEnumerable<string> previousKeyEncryptionKeyPaths,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        CancellationToken cancellationToken)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        var database = RegistryDatabase.Create(connectionString, loggerFactory);
        KeyEncryptionKeys? keys = null;
        try
        {
            // The KEK files before the server: a missing or unreadable one is reported at once, not
            // after a wait for a server that is not there yet.
            keys = KeyEncryptionKeys.Load(keyEncryptionKeyPath, previousKeyEncryptionKeyPaths);
            await new RegistryMigrator(database, timeProvider, loggerFactory.CreateLogger<RegistryMigrator>()).MigrateAsync(cancellationToken);
            var opened = keys;
            keys = null; // the protector owns them from here, and disposes them if it fails
            var protector = CredentialProtector.Create(database, opened, loggerFactory);
            return new VirtualKeyRegistry(database, protector, timeProvider, loggerFactory.CreateLogger<VirtualKeyRegistry>(), ownsDependencies: true);
        }
        catch
        {
            keys?.Dispose();
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Writes a key, its credentials (encrypted here) and token changes in one transaction, and only
    /// what differs from what is stored: an identical upsert writes nothing and sends no NOTIFY.
    /// </summary>
    /// <remarks>
    /// A live key of the same namespace/name with another uid belongs to a deleted-and-recreated
    /// resource whose delete was never seen: it is tombstoned in the same transaction.
    /// </remarks>
    /// <exception cref="ArgumentException">The upsert is inconsistent; the message names the field.</exception>
    public Task<UpsertResult> UpsertAsync(VirtualKeyUpsert upsert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upsert);
        Validate(upsert);
        var identity = upsert.Identity;
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        var tokens = upsert.Tokens ?? TokenChanges.None;
        RequireTokensOf(identity, keyId, tokens, nameof(upsert));

        var config = JsonSerializer.Serialize(Normalize(upsert.Config), RegistryJsonContext.Default.VirtualKeyConfig);
        var state = upsert.Config.Suspended ? VirtualKeyState.Suspended : VirtualKeyState.Active;
        var fingerprints = upsert.Credentials.ToDictionary(c => c.ProviderName, c => _protector.Fingerprint(c.Secret), StringComparer.Ordinal);
        var issuedHashes = tokens.Issue.Select(t => t.ComputeHash()).ToArray();
        var now = _timeProvider.GetUtcNow();

        return _database.RunAsync(
            async (connection, ct) =>
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var sql = new Sql(connection, transaction, ct);
                await LockNameAsync(sql, identity.Namespace, identity.Name);

                var changed = false;
                foreach (var replaced in await sql.QueryAsync<KeyRow>(
                    $"SELECT {KeyColumns} FROM vk.virtual_keys WHERE namespace = @Namespace AND name = @Name AND uid <> @Uid AND state <> 'tombstoned'",
                    new { identity.Namespace, identity.Name, identity.Uid }))
                {
                    await TombstoneRowAsync(sql, replaced, now);
                    Log.Replaced(_logger, identity.Namespace, identity.Name, replaced.KeyId);
                }

                var row = await sql.QuerySingleOrDefaultAsync<ExistingRow>(
                    """
                    SELECT id AS Id, generation AS Generation, state AS State, spec_fingerprint AS SpecFingerprint,
                           change_version AS ChangeVersion, config = @config::jsonb AS ConfigSame
                    FROM vk.virtual_keys WHERE namespace = @Namespace AND name = @Name AND uid = @Uid
                    """,
                    new { identity.Namespace, identity.Name, identity.Uid, config });

                long changeVersion;
                long id;
                if (row is null)
                {
                    // The change version is stamped last (below): the counter row is the one lock every
                    // writer shares, so it is taken as late as possible and held only until COMMIT.
                    changeVersion = 0;
                    id = await sql.ExecuteScalarAsync<long>(
                        """
                        INSERT INTO vk.virtual_keys (namespace, name, uid, key_id, generation, state, spec_fingerprint, config, change_version, created_at, updated_at)
                        VALUES (@Namespace, @Name, @Uid, @keyId, @generation, @state, @spec, @config::jsonb, @changeVersion, @now, @now)
                        RETURNING id
                        """,
                        new
                        {
                            identity.Namespace,
                            identity.Name,
                            identity.Uid,
                            keyId,
                            generation = upsert.Generation,
                            state = StateText(state),
                            spec = upsert.SpecFingerprint,
                            config,
                            changeVersion,
                            now,
                        });
                    changed = true;
                }
                else if (row.State == StateText(VirtualKeyState.Tombstoned))
                {
                    await transaction.CommitAsync(ct);
                    return new UpsertResult(keyId, false, row.ChangeVersion, VirtualKeyState.Tombstoned);
                }
                else
                {
                    id = row.Id;
                    changeVersion = row.ChangeVersion;
                    changed = !row.ConfigSame
                        || row.Generation != upsert.Generation
                        || row.SpecFingerprint != upsert.SpecFingerprint
                        || row.State != StateText(state);
                }

                changed |= await WriteCredentialsAsync(sql, id, identity, upsert.Credentials, fingerprints, now);
                changed |= await WriteTokensAsync(sql, id, issuedHashes, tokens.RetireOthersAt, now);

                if (changed)
                {
                    // One round trip takes the next change version, stamps the row with it and sends the
                    // NOTIFY; the counter's row lock is then held only until the COMMIT that follows, so
                    // concurrent upserts of different keys wait for each other as briefly as possible,
                    // and versions still follow commit order.
                    changeVersion = await sql.ExecuteScalarAsync<long>(
                        """
                        WITH version AS (
                            UPDATE vk.registry_state SET change_version = change_version + 1 RETURNING change_version
                        ), stamped AS (
                            UPDATE vk.virtual_keys
                            SET generation = @generation, state = @state, spec_fingerprint = @spec, config = @config::jsonb,
                                change_version = (SELECT change_version FROM version), updated_at = @now
                            WHERE id = @id
                            RETURNING change_version
                        )
                        SELECT change_version FROM stamped
                        """,
                        new { id, generation = upsert.Generation, state = StateText(state), spec = upsert.SpecFingerprint, config, now });
                    await NotifyAsync(sql, new RegistryChange(keyId, identity.Namespace, identity.Name, state, changeVersion));
                }

                await transaction.CommitAsync(ct);
                if (changed)
                {
                    Log.Upserted(_logger, identity.Namespace, identity.Name, keyId, changeVersion);
                }

                return new UpsertResult(keyId, changed, changeVersion, state);
            },
            cancellationToken);
    }

    /// <summary>
    /// Marks a deleted resource's key as tombstoned: its tokens are refused from now on and its
    /// encrypted credentials are erased; the row and its usage history stay.
    /// </summary>
    /// <returns>False when there was nothing to do (no such key, or already tombstoned).</returns>
    public Task<bool> TombstoneAsync(VirtualKeyIdentity identity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var now = _timeProvider.GetUtcNow();
        return _database.RunAsync(
            async (connection, ct) =>
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var sql = new Sql(connection, transaction, ct);
                var row = await LockLiveRowAsync(sql, identity);
                if (row is null)
                {
                    return false;
                }

                await TombstoneRowAsync(sql, row, now);
                await transaction.CommitAsync(ct);
                Log.Tombstoned(_logger, identity.Namespace, identity.Name, row.KeyId);
                return true;
            },
            cancellationToken);
    }

    /// <summary>
    /// Applies to a stored key only what takes something away from it (see
    /// <see cref="VirtualKeyRestriction"/>), in one transaction, for a resource whose spec cannot be
    /// upserted whole. Generation and spec fingerprint stay those of the last upsert, so the next
    /// full upsert counts as a change and writes the spec as it is then, whatever this applied.
    /// </summary>
    /// <returns>Null when there is no live key of that uid: nothing is served that could be restricted.</returns>
    /// <exception cref="ArgumentException">A token to issue belongs to another key.</exception>
    public Task<RestrictionResult?> RestrictAsync(VirtualKeyRestriction restriction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(restriction);
        var identity = restriction.Identity ?? throw new ArgumentException("Identity is required.", nameof(restriction));
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        var tokens = restriction.Tokens ?? TokenChanges.None;
        RequireTokensOf(identity, keyId, tokens, nameof(restriction));
        var issuedHashes = tokens.Issue.Select(t => t.ComputeHash()).ToArray();
        var now = _timeProvider.GetUtcNow();

        return _database.RunAsync<RestrictionResult?>(
            async (connection, ct) =>
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var sql = new Sql(connection, transaction, ct);
                var row = await LockLiveRowAsync(sql, identity);
                if (row is null)
                {
                    return null;
                }

                var stored = JsonSerializer.Deserialize(row.Config, RegistryJsonContext.Default.VirtualKeyConfig)!;
                var storedState = ParseState(row.State);
                var restricted = Normalize(stored with
                {
                    Suspended = stored.Suspended || storedState == VirtualKeyState.Suspended || restriction.Suspend,
                    ExpiresAt = Earlier(stored.ExpiresAt, restriction.ExpiresAt),
                });
                var state = restricted.Suspended ? VirtualKeyState.Suspended : VirtualKeyState.Active;
                var changed = state != storedState
                    || restricted.Suspended != stored.Suspended
                    || restricted.ExpiresAt != stored.ExpiresAt?.ToUniversalTime();
                changed |= await WriteTokensAsync(sql, row.Id, issuedHashes, tokens.RetireOthersAt, now);

                var changeVersion = row.ChangeVersion;
                if (changed)
                {
                    changeVersion = await NextChangeVersionAsync(sql);
                    await sql.ExecuteAsync(
                        "UPDATE vk.virtual_keys SET state = @state, config = @config::jsonb, change_version = @changeVersion, updated_at = @now WHERE id = @Id",
                        new
                        {
                            row.Id,
                            state = StateText(state),
                            config = JsonSerializer.Serialize(restricted, RegistryJsonContext.Default.VirtualKeyConfig),
                            changeVersion,
                            now,
                        });
                    await NotifyAsync(sql, new RegistryChange(row.KeyId, identity.Namespace, identity.Name, state, changeVersion));
                }

                await transaction.CommitAsync(ct);
                if (changed)
                {
                    Log.Restricted(_logger, identity.Namespace, identity.Name, keyId, state, changeVersion);
                }

                return new RestrictionResult(keyId, changed, changeVersion, state, restricted.ExpiresAt);
            },
            cancellationToken);

        static DateTimeOffset? Earlier(DateTimeOffset? stored, DateTimeOffset? asked) =>
            stored is null ? asked : asked is null || stored <= asked ? stored : asked;
    }

    /// <summary>The live key of that name, else the most recently deleted one; null when there never was one.</summary>
    public Task<VirtualKeyRecord?> GetAsync(string @namespace, string name, bool includeCredentials, CancellationToken cancellationToken) =>
        GetOneAsync(
            "namespace = @ns AND name = @name ORDER BY (state <> 'tombstoned') DESC, id DESC LIMIT 1",
            new { ns = @namespace, name },
            includeCredentials,
            cancellationToken);

    public Task<VirtualKeyRecord?> GetByKeyIdAsync(string keyId, bool includeCredentials, CancellationToken cancellationToken) =>
        GetOneAsync("key_id = @keyId", new { keyId }, includeCredentials, cancellationToken);

    /// <summary>
    /// Every key not deleted (active and suspended: the sidecar needs suspended keys to refuse them
    /// with a reason), read in one snapshot with the change version to continue from.
    /// </summary>
    /// <exception cref="RegistryProtectionException">A credential does not decrypt (only with <paramref name="includeCredentials"/>).</exception>
    public Task<RegistryKeySet> ListLiveKeysAsync(bool includeCredentials, CancellationToken cancellationToken) =>
        ListAsync("state <> 'tombstoned' ORDER BY id", new { }, includeCredentials, cancellationToken);

    /// <summary>
    /// The registry's change version: one statement. Change versions are handed out in commit order,
    /// so a reader that has applied every change up to this version has seen everything.
    /// </summary>
    public Task<long> GetChangeVersionAsync(CancellationToken cancellationToken) =>
        _database.RunAsync(
            (connection, ct) => new Sql(connection, null, ct).ExecuteScalarAsync<long>("SELECT change_version FROM vk.registry_state", null),
            cancellationToken);

    /// <summary>
    /// Keys whose change version is above <paramref name="changeVersion"/>, tombstoned ones included
    /// (so a snapshot can drop them), in change order.
    /// </summary>
    public Task<RegistryKeySet> ListChangedSinceAsync(long changeVersion, bool includeCredentials, CancellationToken cancellationToken) =>
        ListAsync("change_version > @changeVersion ORDER BY change_version", new { changeVersion }, includeCredentials, cancellationToken);

    /// <summary>
    /// Checks a presented token: format, key, hash (constant-time), grace period. The registry's own
    /// answer; a sidecar verifies against its snapshot with <see cref="TokenVerifier"/> instead.
    /// </summary>
    public async Task<TokenVerification> VerifyTokenAsync(string? presented, CancellationToken cancellationToken)
    {
        if (!VirtualKeyToken.TryParse(presented, out var token, out var formatError))
        {
            return new TokenVerification(TokenVerificationStatus.Malformed, FormatError: formatError);
        }

        var (row, hashes) = await _database.RunAsync(
            async (connection, ct) =>
            {
                var sql = new Sql(connection, null, ct);
                var key = await sql.QuerySingleOrDefaultAsync<KeyRow>($"SELECT {KeyColumns} FROM vk.virtual_keys WHERE key_id = @KeyId", new { token.KeyId });
                var stored = key is null ? [] : await LoadTokensAsync(sql, [key.Id]);
                return (key, stored);
            },
            cancellationToken);

        if (row is null)
        {
            return new TokenVerification(TokenVerificationStatus.UnknownKey, token.KeyId);
        }

        var identity = new VirtualKeyIdentity(row.Namespace, row.Name, row.Uid);
        var state = ParseState(row.State);
        if (state == VirtualKeyState.Tombstoned)
        {
            return new TokenVerification(TokenVerificationStatus.KeyDeleted, row.KeyId, identity, state);
        }

        var check = TokenVerifier.Verify(token, hashes.Select(h => h.Token), _timeProvider.GetUtcNow());
        var status = check switch
        {
            TokenCheck.Accepted => TokenVerificationStatus.Accepted,
            TokenCheck.Retired => TokenVerificationStatus.Retired,
            _ => TokenVerificationStatus.WrongSecret,
        };
        return new TokenVerification(status, row.KeyId, identity, state);
    }

    /// <summary>
    /// Records a batch of usage events and adds them to their keys' usage (pending until the next
    /// <see cref="FoldUsageAsync"/>, read all the same), in one transaction. Idempotent per request id:
    /// a batch sent again changes nothing.
    /// </summary>
    public Task<UsageBatchResult> RecordUsageAsync(IReadOnlyCollection<UsageEvent> events, CancellationToken cancellationToken) =>
        _usage.RecordAsync(events, null, cancellationToken);

    /// <summary>
    /// <see cref="RecordUsageAsync(IReadOnlyCollection{UsageEvent}, CancellationToken)"/> that also refreshes a
    /// sidecar replica's presence for the shared quota counters, in the same statement.
    /// </summary>
    public Task<UsageBatchResult> RecordUsageAsync(IReadOnlyCollection<UsageEvent> events, ReplicaPresence? presence, CancellationToken cancellationToken) =>
        _usage.RecordAsync(events, presence, cancellationToken);

    /// <summary>
    /// Adds the usage recorded since the last fold into the per-period totals: one upsert per key and
    /// period instead of one per batch. Reads do not need it; it keeps the pending rows few. Returns the
    /// totals rows written (0 when another replica's fold was running).
    /// </summary>
    public Task<int> FoldUsageAsync(CancellationToken cancellationToken) => _usage.FoldAsync(cancellationToken);

    /// <summary>Whether usage batches still go over the prepared pool (false after the server refused a prepared statement).</summary>
    internal bool PreparesUsageBatches => _usage.PreparesBatches;

    /// <summary>A key's usage in the period of <paramref name="period"/> that holds <paramref name="at"/>; zeros when there was none.</summary>
    public async Task<UsageTotals> GetUsageAsync(string keyId, BudgetPeriodKind period, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var all = await GetUsageAsync([keyId], period, at, cancellationToken);
        return all[keyId];
    }

    /// <summary>Several keys' usage in the same kind of period, in one query (for the usage syncer).</summary>
    public Task<IReadOnlyDictionary<string, UsageTotals>> GetUsageAsync(
        IReadOnlyCollection<string> keyIds,
        BudgetPeriodKind period,
        DateTimeOffset at,
        CancellationToken cancellationToken) =>
        _usage.GetAsync(keyIds, period, at, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_ownsDependencies)
        {
            _protector.Dispose();
            await _database.DisposeAsync();
        }
    }

    private static void Validate(VirtualKeyUpsert upsert)
    {
        var identity = upsert.Identity ?? throw new ArgumentException("Identity is required.", nameof(upsert));
        Require(identity.Namespace, "Identity.Namespace");
        Require(identity.Name, "Identity.Name");
        Require(identity.Uid, "Identity.Uid");
        Require(upsert.SpecFingerprint, "SpecFingerprint");
        if (upsert.Generation < 0)
        {
            throw new ArgumentException($"Generation must not be negative ({upsert.Generation}).", nameof(upsert));
        }

        var config = upsert.Config ?? throw new ArgumentException("Config is required.", nameof(upsert));
        var providers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Providers.Count; i++)
        {
            var name = config.Providers[i].Name;
            Require(name, $"Config.Providers[{i}].Name");
            if (!providers.Add(name))
            {
                throw new ArgumentException($"Config.Providers[{i}].Name: provider '{name}' appears twice.", nameof(upsert));
            }
        }

        var credentials = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < upsert.Credentials.Count; i++)
        {
            var credential = upsert.Credentials[i];
            if (!providers.Contains(credential.ProviderName))
            {
                throw new ArgumentException($"Credentials[{i}].ProviderName: '{credential.ProviderName}' is not in Config.Providers.", nameof(upsert));
            }

            if (!credentials.Add(credential.ProviderName))
            {
                throw new ArgumentException($"Credentials[{i}].ProviderName: provider '{credential.ProviderName}' has two credentials.", nameof(upsert));
            }

            if (string.IsNullOrEmpty(credential.Secret))
            {
                throw new ArgumentException($"Credentials[{i}].Secret: the credential of provider '{credential.ProviderName}' is empty.", nameof(upsert));
            }
        }

        var missing = providers.Except(credentials, StringComparer.Ordinal).FirstOrDefault();
        if (missing is not null)
        {
            throw new ArgumentException($"Credentials: provider '{missing}' has no credential.", nameof(upsert));
        }

        static void Require(string? value, string field)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException($"{field} is required.", nameof(upsert));
            }
        }
    }

    private static void RequireTokensOf(VirtualKeyIdentity identity, string keyId, TokenChanges tokens, string parameter)
    {
        foreach (var token in tokens.Issue)
        {
            if (token.KeyId != keyId)
            {
                throw new ArgumentException($"Tokens.Issue holds a token for key id {token.KeyId}, but {identity} has key id {keyId}.", parameter);
            }
        }
    }

    /// <summary>Equal instants must serialize equally, or an offset change alone would count as a change.</summary>
    private static VirtualKeyConfig Normalize(VirtualKeyConfig config) =>
        config with { ExpiresAt = config.ExpiresAt?.ToUniversalTime() };

    private static string StateText(VirtualKeyState state) => state switch
    {
        VirtualKeyState.Active => "active",
        VirtualKeyState.Suspended => "suspended",
        _ => "tombstoned",
    };

    private static VirtualKeyState ParseState(string state) => state switch
    {
        "active" => VirtualKeyState.Active,
        "suspended" => VirtualKeyState.Suspended,
        _ => VirtualKeyState.Tombstoned,
    };

    private static DateTimeOffset ToUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static DateTimeOffset? ToUtc(DateTime? value) => value is null ? null : ToUtc(value.Value);

    /// <summary>Serializes every writer of one namespace/name, including the insert of a brand-new key.</summary>
    /// <summary>Takes the name's lock, then reads the live (not tombstoned) row of this uid; null when there is none.</summary>
    private static async Task<KeyRow?> LockLiveRowAsync(Sql sql, VirtualKeyIdentity identity)
    {
        await LockNameAsync(sql, identity.Namespace, identity.Name);
        return await sql.QuerySingleOrDefaultAsync<KeyRow>(
            $"SELECT {KeyColumns} FROM vk.virtual_keys WHERE namespace = @Namespace AND name = @Name AND uid = @Uid AND state <> 'tombstoned'",
            new { identity.Namespace, identity.Name, identity.Uid });
    }

    private static Task LockNameAsync(Sql sql, string @namespace, string name) =>
        sql.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))", new { key = "vk-key:" + @namespace + "/" + name });

    /// <summary>Taking this row lock orders change versions by commit (see migration 0001).</summary>
    private static Task<long> NextChangeVersionAsync(Sql sql) =>
        sql.ExecuteScalarAsync<long>("UPDATE vk.registry_state SET change_version = change_version + 1 RETURNING change_version", null);

    private static Task NotifyAsync(Sql sql, RegistryChange change) =>
        sql.ExecuteAsync("SELECT pg_notify(@channel, @payload)", new { channel = RegistryChangeListener.Channel, payload = change.ToPayload() });

    private static async Task TombstoneRowAsync(Sql sql, KeyRow row, DateTimeOffset now)
    {
        var changeVersion = await NextChangeVersionAsync(sql);
        await sql.ExecuteAsync(
            """
            UPDATE vk.virtual_keys SET state = 'tombstoned', tombstoned_at = @now, updated_at = @now, change_version = @changeVersion WHERE id = @Id;
            DELETE FROM vk.provider_credentials WHERE virtual_key = @Id;
            UPDATE vk.token_hashes SET not_after = @now WHERE virtual_key = @Id AND (not_after IS NULL OR not_after > @now);
            """,
            new { row.Id, now, changeVersion });
        await NotifyAsync(sql, new RegistryChange(row.KeyId, row.Namespace, row.Name, VirtualKeyState.Tombstoned, changeVersion));
    }

    private async Task<bool> WriteCredentialsAsync(
        Sql sql,
        long id,
        VirtualKeyIdentity identity,
        IReadOnlyList<ProviderCredential> credentials,
        Dictionary<string, byte[]> fingerprints,
        DateTimeOffset now)
    {
        var stored = (await sql.QueryAsync<CredentialFingerprintRow>(
                "SELECT provider_name AS ProviderName, fingerprint AS Fingerprint FROM vk.provider_credentials WHERE virtual_key = @id",
                new { id }))
            .ToDictionary(r => r.ProviderName, r => r.Fingerprint, StringComparer.Ordinal);

        var changed = false;
        foreach (var credential in credentials)
        {
            var fingerprint = fingerprints[credential.ProviderName];
            if (stored.TryGetValue(credential.ProviderName, out var existing) && existing.AsSpan().SequenceEqual(fingerprint))
            {
                continue;
            }

            // Protect only what changed: Data Protection ciphertext differs on every call.
            var ciphertext = _protector.Protect(credential.Secret, identity.Uid, credential.ProviderName);
            await sql.ExecuteAsync(
                """
                INSERT INTO vk.provider_credentials (virtual_key, provider_name, ciphertext, fingerprint, updated_at)
                VALUES (@id, @provider, @ciphertext, @fingerprint, @now)
                ON CONFLICT (virtual_key, provider_name)
                DO UPDATE SET ciphertext = excluded.ciphertext, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
                """,
                new { id, provider = credential.ProviderName, ciphertext, fingerprint, now });
            changed = true;
        }

        var removed = stored.Keys.Where(name => !fingerprints.ContainsKey(name)).ToArray();
        if (removed.Length > 0)
        {
            await sql.ExecuteAsync(
                "DELETE FROM vk.provider_credentials WHERE virtual_key = @id AND provider_name = ANY(@removed)",
                new { id, removed });
            changed = true;
        }

        return changed;
    }

    private static async Task<bool> WriteTokensAsync(Sql sql, long id, byte[][] issuedHashes, DateTimeOffset? retireOthersAt, DateTimeOffset now)
    {
        var changed = false;
        foreach (var hash in issuedHashes)
        {
            changed |= await sql.ExecuteAsync(
                "INSERT INTO vk.token_hashes (hash, virtual_key, created_at) VALUES (@hash, @id, @now) ON CONFLICT (hash) DO NOTHING",
                new { hash, id, now }) > 0;
        }

        if (retireOthersAt is { } retireAt)
        {
            // Only tokens registered before the issued ones: a stale copy of an older token (a
            // lagging cache, a restored backup) must not retire the token that replaced it.
            changed |= await sql.ExecuteAsync(
                """
                UPDATE vk.token_hashes SET not_after = @retireAt
                WHERE virtual_key = @id AND NOT (hash = ANY(@issuedHashes)) AND (not_after IS NULL OR not_after > @retireAt)
                  AND created_at <= (SELECT max(created_at) FROM vk.token_hashes WHERE virtual_key = @id AND hash = ANY(@issuedHashes))
                """,
                new { id, issuedHashes, retireAt = retireAt.ToUniversalTime() }) > 0;
        }

        return changed;
    }

    private Task<VirtualKeyRecord?> GetOneAsync(string where, object parameters, bool includeCredentials, CancellationToken cancellationToken) =>
        _database.RunAsync(
            async (connection, ct) =>
            {
                var sql = new Sql(connection, null, ct);
                var rows = (await sql.QueryAsync<KeyRow>($"SELECT {KeyColumns} FROM vk.virtual_keys WHERE {where}", parameters)).ToList();
                var records = await ToRecordsAsync(sql, rows, includeCredentials, skipUnreadable: false, retiredSince: null);
                return records.Count == 0 ? null : records[0];
            },
            cancellationToken);

    private Task<RegistryKeySet> ListAsync(string where, object parameters, bool includeCredentials, CancellationToken cancellationToken) =>
        _database.RunAsync(
            async (connection, ct) =>
            {
                // One snapshot for the version and the rows: a change committed in between is either in both or in neither.
                await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
                var sql = new Sql(connection, transaction, ct);
                var version = await sql.ExecuteScalarAsync<long>("SELECT change_version FROM vk.registry_state", null);
                var rows = (await sql.QueryAsync<KeyRow>($"SELECT {KeyColumns} FROM vk.virtual_keys WHERE {where}", parameters)).ToList();
                var records = await ToRecordsAsync(sql, rows, includeCredentials, skipUnreadable: true, _timeProvider.GetUtcNow() - RetiredTokensListedFor);
                await transaction.CommitAsync(ct);
                return new RegistryKeySet(version, records);
            },
            cancellationToken);

    /// <param name="skipUnreadable">
    /// For lists (the sidecar's snapshot): a credential that does not decrypt (tampered, or protected
    /// by a key this process does not hold) is left out of its record and logged, so one bad row
    /// cannot stop every key from loading. A read of one key throws instead.
    /// </param>
    /// <param name="retiredSince">Leaves out token hashes whose grace period ended before this; null for all of them.</param>
    private async Task<List<VirtualKeyRecord>> ToRecordsAsync(Sql sql, List<KeyRow> rows, bool includeCredentials, bool skipUnreadable, DateTimeOffset? retiredSince)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        var ids = rows.Select(r => r.Id).ToArray();
        var tokens = (await LoadTokensAsync(sql, ids, retiredSince)).ToLookup(t => t.KeyRowId, t => t.Token);
        var credentials = includeCredentials
            ? (await sql.QueryAsync<CredentialRow>(
                "SELECT virtual_key AS KeyRowId, provider_name AS ProviderName, ciphertext AS Ciphertext FROM vk.provider_credentials WHERE virtual_key = ANY(@ids)",
                new { ids })).ToLookup(c => c.KeyRowId)
            : null;

        return [.. rows.Select(row =>
        {
            var identity = new VirtualKeyIdentity(row.Namespace, row.Name, row.Uid);
            return new VirtualKeyRecord(
                identity,
                row.KeyId,
                row.Generation,
                ParseState(row.State),
                row.SpecFingerprint,
                JsonSerializer.Deserialize(row.Config, RegistryJsonContext.Default.VirtualKeyConfig)!,
                row.ChangeVersion,
                ToUtc(row.CreatedAt),
                ToUtc(row.UpdatedAt),
                ToUtc(row.TombstonedAt),
                [.. tokens[row.Id]],
                credentials is null ? null : Decrypt(identity, credentials[row.Id], skipUnreadable));
        })];
    }

    private Dictionary<string, ProviderCredential> Decrypt(VirtualKeyIdentity identity, IEnumerable<CredentialRow> rows, bool skipUnreadable)
    {
        var result = new Dictionary<string, ProviderCredential>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            try
            {
                result[row.ProviderName] = new ProviderCredential(row.ProviderName, _protector.Unprotect(row.Ciphertext, identity.Uid, row.ProviderName));
            }
            catch (RegistryProtectionException ex) when (skipUnreadable)
            {
                Log.CredentialUnreadable(_logger, identity.ToString(), row.ProviderName, ex.Failure, ex.Message);
            }
            catch (RegistryProtectionException ex)
            {
                throw new RegistryProtectionException(ex.Failure, $"Virtual key {identity}: {ex.Message}", ex);
            }
        }

        return result;
    }

    private static async Task<List<TokenRow>> LoadTokensAsync(Sql sql, long[] ids, DateTimeOffset? retiredSince = null) =>
        [.. (await sql.QueryAsync<TokenHashRow>(
            """
            SELECT virtual_key AS KeyRowId, hash AS Hash, created_at AS CreatedAt, not_after AS NotAfter FROM vk.token_hashes
            WHERE virtual_key = ANY(@ids) AND (@retiredSince::timestamptz IS NULL OR not_after IS NULL OR not_after > @retiredSince)
            ORDER BY created_at
            """,
            new { ids, retiredSince = retiredSince?.ToUniversalTime() }))
        .Select(r => new TokenRow(r.KeyRowId, new StoredTokenHash(r.Hash, ToUtc(r.CreatedAt), ToUtc(r.NotAfter))))];

    /// <summary>Dapper calls bound to one connection, transaction and token.</summary>
    private readonly record struct Sql(NpgsqlConnection Connection, NpgsqlTransaction? Transaction, CancellationToken CancellationToken)
    {
        public Task<IEnumerable<T>> QueryAsync<T>(string sql, object? parameters) =>
            Connection.QueryAsync<T>(Command(sql, parameters));

        public Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? parameters) =>
            Connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters));

        public Task<T?> ExecuteScalarAsync<T>(string sql, object? parameters) =>
            Connection.ExecuteScalarAsync<T>(Command(sql, parameters));

        public Task<int> ExecuteAsync(string sql, object? parameters) =>
            Connection.ExecuteAsync(Command(sql, parameters));

        private CommandDefinition Command(string sql, object? parameters) =>
            new(sql, parameters, Transaction, cancellationToken: CancellationToken);
    }

    private sealed class KeyRow
    {
        public long Id { get; set; }

        public string Namespace { get; set; } = "";

        public string Name { get; set; } = "";

        public string Uid { get; set; } = "";

        public string KeyId { get; set; } = "";

        public long Generation { get; set; }

        public string State { get; set; } = "";

        public string SpecFingerprint { get; set; } = "";

        public string Config { get; set; } = "";

        public long ChangeVersion { get; set; }

        public DateTime CreatedAt { get; set; }

        public DateTime UpdatedAt { get; set; }

        public DateTime? TombstonedAt { get; set; }
    }

    private sealed class ExistingRow
    {
        public long Id { get; set; }

        public long Generation { get; set; }

        public string State { get; set; } = "";

        public string SpecFingerprint { get; set; } = "";

        public long ChangeVersion { get; set; }

        public bool ConfigSame { get; set; }
    }

    private sealed class CredentialFingerprintRow
    {
        public string ProviderName { get; set; } = "";

        public byte[] Fingerprint { get; set; } = [];
    }

    private sealed class CredentialRow
    {
        public long KeyRowId { get; set; }

        public string ProviderName { get; set; } = "";

        public byte[] Ciphertext { get; set; } = [];
    }

    private sealed class TokenHashRow
    {
        public long KeyRowId { get; set; }

        public byte[] Hash { get; set; } = [];

        public DateTime CreatedAt { get; set; }

        public DateTime? NotAfter { get; set; }
    }

    private sealed record TokenRow(long KeyRowId, StoredTokenHash Token);

    private static partial class Log
    {
        [LoggerMessage(4001, LogLevel.Information, "Registry key {Namespace}/{Name} ({KeyId}) written at change version {ChangeVersion}")]
        public static partial void Upserted(ILogger logger, string @namespace, string name, string keyId, long changeVersion);

        [LoggerMessage(4002, LogLevel.Information, "Registry key {Namespace}/{Name} ({KeyId}) tombstoned")]
        public static partial void Tombstoned(ILogger logger, string @namespace, string name, string keyId);

        [LoggerMessage(4003, LogLevel.Information, "Registry key {Namespace}/{Name} ({KeyId}) tombstoned: a resource with a new uid replaced it")]
        public static partial void Replaced(ILogger logger, string @namespace, string name, string keyId);

        [LoggerMessage(4004, LogLevel.Error, "Virtual key {Key}: the credential of provider '{Provider}' does not decrypt ({Failure}: {Reason}); the key is served without it until it is written again")]
        public static partial void CredentialUnreadable(ILogger logger, string key, string provider, RegistryProtectionFailure failure, string reason);

        [LoggerMessage(4005, LogLevel.Information, "Registry key {Namespace}/{Name} ({KeyId}) restricted while its spec cannot be registered: {State} at change version {ChangeVersion}")]
        public static partial void Restricted(ILogger logger, string @namespace, string name, string keyId, VirtualKeyState state, long changeVersion);
    }
}
