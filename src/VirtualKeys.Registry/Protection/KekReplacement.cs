using System.Security.Cryptography;
using System.Xml.Linq;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Replaces the KEK: re-seals every key ring element under a new KEK and re-computes every credential
/// fingerprint (they are derived from the KEK), in one transaction, while operator and sidecars keep
/// running with both KEKs loaded (<see cref="KeyEncryptionKeys"/>).
/// </summary>
/// <remarks>
/// <para>
/// Idempotent and resumable: elements already under the new KEK are left alone, so a rerun after a
/// complete run changes nothing, and a run that dies half-way rolls back and leaves the ring as it was.
/// Before committing it opens every element again with the new KEK alone and compares the plaintext
/// with what the old KEK opened; any difference rolls everything back.
/// </para>
/// <para>
/// The ring material itself does not change, so replicas that cached the ring keep working, and
/// readers never wait: the ring table is locked against writers only (<c>SHARE ROW EXCLUSIVE</c>).
/// </para>
/// </remarks>
public sealed partial class KekReplacement
{
    /// <summary>Gives up instead of queueing forever behind a stuck writer of the ring or the credentials.</summary>
    private const string LockTimeout = "30s";

    private readonly RegistryDatabase _database;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;

    public KekReplacement(RegistryDatabase database, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<KekReplacement>();
    }

    /// <summary>Re-seals the ring under <paramref name="newKek"/>; the caller keeps ownership of both KEKs.</summary>
    /// <param name="oldKek">The KEK the ring is sealed under now (elements already under <paramref name="newKek"/> need not open with it).</param>
    /// <param name="newKek">The KEK to seal everything under.</param>
    /// <param name="progress">Told, synchronously, after each element re-sealed (how many so far); a crash or cancellation at any point leaves the ring as it was.</param>
    /// <exception cref="RegistryProtectionException">
    /// The two KEKs are the same key; an element is sealed under a third KEK; an element or credential
    /// does not open; or the new KEK does not open what was written. Nothing was changed.
    /// </exception>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached; nothing was changed.</exception>
    public async Task<KekReplacementResult> ReplaceAsync(
        KeyEncryptionKey oldKek,
        KeyEncryptionKey newKek,
        IProgress<int>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(oldKek);
        ArgumentNullException.ThrowIfNull(newKek);
        if (oldKek.Id == newKek.Id)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.WrongKeyEncryptionKey,
                $"The new key-encryption key ({newKek.Source}) is the same key as the old one ({oldKek.Source}, id {oldKek.Id}): generate a new KEK to replace it with.");
        }

        foreach (var element in new PostgresXmlRepository(_database).GetAllElements())
        {
            foreach (var sealedElement in element.Descendants(KekXmlEncryptor.ElementName))
            {
                var kekId = KekXmlDecryptor.ReadKekId(sealedElement);
                if (kekId != oldKek.Id && kekId != newKek.Id)
                {
                    throw ThirdKek(kekId, oldKek, newKek);
                }
            }
        }

        // Opening the protector checks that every element opens with one of the two KEKs, before any lock is taken.
        using var protector = OpenProtector(oldKek, newKek);
        protector.EnsureDefaultKey();

        var result = await _database.RunAsync(
            async (connection, ct) =>
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                await ExecuteAsync(connection, transaction, $"SET LOCAL lock_timeout = '{LockTimeout}'", null, ct);
                await ExecuteAsync(connection, transaction, "LOCK TABLE vk.data_protection_keys IN SHARE ROW EXCLUSIVE MODE", null, ct);

                var (rewrapped, alreadyNew, expected) = await RewrapAsync(connection, transaction, oldKek, newKek, progress, ct);
                var (credentials, fingerprints) = await RefingerprintAsync(connection, transaction, protector, ct);
                await VerifyAsync(connection, transaction, newKek, expected, ct);

                ct.ThrowIfCancellationRequested();
                await transaction.CommitAsync(ct);
                return new KekReplacementResult(newKek.Id, rewrapped, alreadyNew, fingerprints, credentials);
            },
            cancellationToken);

        Log.Replaced(_logger, _database.Endpoint, oldKek.Id, newKek.Id, result.Rewrapped, result.AlreadyUnderNewKek, result.FingerprintsUpdated);
        return result;
    }

    private static Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, object? parameters, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: ct));

    private static async Task<(int Rewrapped, int AlreadyNew, Dictionary<long, byte[][]> Expected)> RewrapAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        KeyEncryptionKey oldKek,
        KeyEncryptionKey newKek,
        IProgress<int>? progress,
        CancellationToken ct)
    {
        var rows = await connection.QueryAsync<RingRow>(new CommandDefinition(
            "SELECT id AS Id, friendly_name AS FriendlyName, xml AS Xml FROM vk.data_protection_keys ORDER BY id",
            transaction: transaction,
            cancellationToken: ct));

        var rewrapped = 0;
        var alreadyNew = 0;
        var expected = new Dictionary<long, byte[][]>();
        foreach (var row in rows)
        {
            var element = XElement.Parse(row.Xml);
            var sealedElements = element.Descendants(KekXmlEncryptor.ElementName).ToList();
            var plaintexts = new byte[sealedElements.Count][];
            var changed = false;
            for (var i = 0; i < sealedElements.Count; i++)
            {
                var sealedElement = sealedElements[i];
                var kekId = KekXmlDecryptor.ReadKekId(sealedElement);
                if (kekId == newKek.Id)
                {
                    plaintexts[i] = KekXmlDecryptor.Open(sealedElement, newKek);
                    alreadyNew++;
                }
                else if (kekId == oldKek.Id)
                {
                    plaintexts[i] = KekXmlDecryptor.Open(sealedElement, oldKek);
                    sealedElement.ReplaceWith(KekXmlEncryptor.Seal(plaintexts[i], newKek));
                    changed = true;
                    rewrapped++;
                }
                else
                {
                    throw ThirdKek(kekId, oldKek, newKek);
                }
            }

            expected[row.Id] = plaintexts;
            if (changed)
            {
                await ExecuteAsync(
                    connection,
                    transaction,
                    "UPDATE vk.data_protection_keys SET xml = @xml WHERE id = @id",
                    new { id = row.Id, xml = element.ToString(SaveOptions.DisableFormatting) },
                    ct);
                progress?.Report(rewrapped);
            }

            ct.ThrowIfCancellationRequested();
        }

        return (rewrapped, alreadyNew, expected);
    }

    /// <summary>
    /// Re-computes each fingerprint under the new KEK. Rows are locked first, so an operator writing a
    /// credential meanwhile waits and then writes its own fingerprint: a stored fingerprint never
    /// describes another secret than the ciphertext beside it.
    /// </summary>
    private static async Task<(int Credentials, int Updated)> RefingerprintAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        CredentialProtector protector,
        CancellationToken ct)
    {
        var rows = (await connection.QueryAsync<CredentialRow>(new CommandDefinition(
            """
            SELECT c.virtual_key AS KeyRowId, k.uid AS Uid, c.provider_name AS ProviderName, c.ciphertext AS Ciphertext, c.fingerprint AS Fingerprint
            FROM vk.provider_credentials c JOIN vk.virtual_keys k ON k.id = c.virtual_key
            ORDER BY c.virtual_key, c.provider_name
            FOR UPDATE OF c
            """,
            transaction: transaction,
            cancellationToken: ct))).ToList();

        var updated = 0;
        foreach (var row in rows)
        {
            ct.ThrowIfCancellationRequested();
            var fingerprint = protector.Fingerprint(protector.Unprotect(row.Ciphertext, row.Uid, row.ProviderName));
            if (CryptographicOperations.FixedTimeEquals(fingerprint, row.Fingerprint))
            {
                continue;
            }

            await ExecuteAsync(
                connection,
                transaction,
                "UPDATE vk.provider_credentials SET fingerprint = @fingerprint WHERE virtual_key = @KeyRowId AND provider_name = @ProviderName",
                new { fingerprint, row.KeyRowId, row.ProviderName },
                ct);
            updated++;
        }

        return (rows.Count, updated);
    }

    /// <summary>Reads back what this transaction wrote and opens it with the new KEK alone.</summary>
    private static async Task VerifyAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        KeyEncryptionKey newKek,
        Dictionary<long, byte[][]> expected,
        CancellationToken ct)
    {
        var rows = await connection.QueryAsync<RingRow>(new CommandDefinition(
            "SELECT id AS Id, friendly_name AS FriendlyName, xml AS Xml FROM vk.data_protection_keys ORDER BY id",
            transaction: transaction,
            cancellationToken: ct));
        foreach (var row in rows)
        {
            var sealedElements = XElement.Parse(row.Xml).Descendants(KekXmlEncryptor.ElementName).ToList();
            if (!expected.TryGetValue(row.Id, out var plaintexts) || plaintexts.Length != sealedElements.Count)
            {
                throw NotVerified(row.FriendlyName, newKek, null);
            }

            for (var i = 0; i < sealedElements.Count; i++)
            {
                byte[] reopened;
                try
                {
                    if (KekXmlDecryptor.ReadKekId(sealedElements[i]) != newKek.Id)
                    {
                        throw NotVerified(row.FriendlyName, newKek, null);
                    }

                    reopened = KekXmlDecryptor.Open(sealedElements[i], newKek);
                }
                catch (RegistryProtectionException ex) when (ex.Failure == RegistryProtectionFailure.Tampered)
                {
                    throw NotVerified(row.FriendlyName, newKek, ex);
                }

                if (!reopened.AsSpan().SequenceEqual(plaintexts[i]))
                {
                    throw NotVerified(row.FriendlyName, newKek, null);
                }
            }
        }
    }

    private static RegistryProtectionException ThirdKek(string? kekId, KeyEncryptionKey oldKek, KeyEncryptionKey newKek) =>
        new(
            RegistryProtectionFailure.WrongKeyEncryptionKey,
            $"The key ring holds an element sealed under the key-encryption key with id {kekId ?? "(none)"}, which is neither the old KEK ({oldKek.Source}, id {oldKek.Id}) nor the new one ({newKek.Source}, id {newKek.Id}). " +
            "Was a replacement to another new KEK started earlier, or do replicas run with a KEK other than these? Nothing was changed.");

    private static RegistryProtectionException NotVerified(string friendlyName, KeyEncryptionKey newKek, Exception? inner) =>
        new(
            RegistryProtectionFailure.Tampered,
            $"After re-sealing, key ring element '{friendlyName}' did not open with the new key-encryption key ({newKek.Source}, id {newKek.Id}) to what the old one opened; the transaction was rolled back and nothing was changed.",
            inner);

    private CredentialProtector OpenProtector(KeyEncryptionKey oldKek, KeyEncryptionKey newKek)
    {
        var keys = KeyEncryptionKeys.From(newKek.Copy(), oldKek.Copy());
        try
        {
            return CredentialProtector.Create(_database, keys, _loggerFactory);
        }
        catch (RegistryProtectionException ex) when (ex.Failure == RegistryProtectionFailure.WrongKeyEncryptionKey)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.WrongKeyEncryptionKey,
                $"The key ring holds elements that neither the old KEK ({oldKek.Source}, id {oldKek.Id}) nor the new one ({newKek.Source}, id {newKek.Id}) opens: {ex.Message} Nothing was changed.",
                ex);
        }
    }

    private sealed class RingRow
    {
        public long Id { get; set; }

        public string FriendlyName { get; set; } = "";

        public string Xml { get; set; } = "";
    }

    private sealed class CredentialRow
    {
        public long KeyRowId { get; set; }

        public string Uid { get; set; } = "";

        public string ProviderName { get; set; } = "";

        public byte[] Ciphertext { get; set; } = [];

        public byte[] Fingerprint { get; set; } = [];
    }

    private static partial class Log
    {
        [LoggerMessage(2101, LogLevel.Information, "Replaced the key-encryption key of the key ring in {Endpoint}: {OldKekId} -> {NewKekId}; {Rewrapped} elements re-sealed, {AlreadyNew} already under the new KEK, {Fingerprints} credential fingerprints re-computed")]
        public static partial void Replaced(ILogger logger, string endpoint, string oldKekId, string newKekId, int rewrapped, int alreadyNew, int fingerprints);
    }
}
