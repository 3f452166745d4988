using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Re-protects every stored credential with the newest ring key, so that older ring keys end up
/// protecting nothing and can be revoked later. The secrets themselves, their fingerprints and the
/// keys' change versions stay as they are: sidecars hold the decrypted values and need not reload.
/// </summary>
/// <remarks>
/// One credential at a time, each in its own statement, and only if its ciphertext is still the one
/// read: an operator writing the same row meanwhile wins. An interrupted run is resumed by running
/// again; credentials already under the newest key are skipped.
/// </remarks>
public sealed partial class CredentialReencryption
{
    private readonly RegistryDatabase _database;
    private readonly CredentialProtector _protector;
    private readonly ILogger _logger;

    public CredentialReencryption(RegistryDatabase database, CredentialProtector protector, ILogger<CredentialReencryption>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(protector);
        _database = database;
        _protector = protector;
        _logger = logger ?? NullLogger<CredentialReencryption>.Instance;
    }

    /// <param name="progress">Told, synchronously, after each credential re-protected (how many so far).</param>
    /// <exception cref="RegistryProtectionException">A credential does not decrypt; those before it stay re-protected.</exception>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public async Task<CredentialReencryptionResult> ReencryptAsync(IProgress<int>? progress, CancellationToken cancellationToken)
    {
        if (_protector.DefaultKeyId is null)
        {
            _protector.EnsureDefaultKey();
        }

        var target = _protector.DefaultKeyId
            ?? throw new InvalidOperationException("Data Protection made no default key for the ring.");

        var rows = await _database.RunAsync(
            async (connection, ct) => (await connection.QueryAsync<CredentialRow>(new CommandDefinition(
                """
                SELECT c.virtual_key AS KeyRowId, k.uid AS Uid, c.provider_name AS ProviderName, c.ciphertext AS Ciphertext
                FROM vk.provider_credentials c JOIN vk.virtual_keys k ON k.id = c.virtual_key
                ORDER BY c.virtual_key, c.provider_name
                """,
                cancellationToken: ct))).ToList(),
            cancellationToken);

        int reencrypted = 0, alreadyCurrent = 0, changedMeanwhile = 0;
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (CredentialProtector.ReadKeyId(row.Ciphertext) == target)
            {
                alreadyCurrent++;
                continue;
            }

            var ciphertext = _protector.Protect(_protector.Unprotect(row.Ciphertext, row.Uid, row.ProviderName), row.Uid, row.ProviderName);
            var updated = await _database.RunAsync(
                (connection, ct) => connection.ExecuteAsync(new CommandDefinition(
                    """
                    UPDATE vk.provider_credentials SET ciphertext = @ciphertext
                    WHERE virtual_key = @KeyRowId AND provider_name = @ProviderName AND ciphertext = @old
                    """,
                    new { ciphertext, row.KeyRowId, row.ProviderName, old = row.Ciphertext },
                    cancellationToken: ct)),
                cancellationToken);
            if (updated == 0)
            {
                changedMeanwhile++;
                continue;
            }

            reencrypted++;
            progress?.Report(reencrypted);
        }

        Log.Reencrypted(_logger, _database.Endpoint, target, reencrypted, alreadyCurrent, changedMeanwhile);
        return new CredentialReencryptionResult(target, reencrypted, alreadyCurrent, changedMeanwhile);
    }

    private sealed class CredentialRow
    {
        public long KeyRowId { get; set; }

        public string Uid { get; set; } = "";

        public string ProviderName { get; set; } = "";

        public byte[] Ciphertext { get; set; } = [];
    }

    private static partial class Log
    {
        [LoggerMessage(2201, LogLevel.Information, "Re-protected the credentials in {Endpoint} with ring key {KeyId}: {Reencrypted} moved, {AlreadyCurrent} already there, {ChangedMeanwhile} rewritten by the operator meanwhile")]
        public static partial void Reencrypted(ILogger logger, string endpoint, Guid keyId, int reencrypted, int alreadyCurrent, int changedMeanwhile);
    }
}
