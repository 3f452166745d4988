using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.KeyManagement.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Encrypts raw provider keys before they reach PostgreSQL, with ASP.NET Core Data Protection whose
/// key ring lives in the registry database, encrypted under a <see cref="KeyEncryptionKey"/>.
/// Builds its own small service provider, so no ASP.NET Core host is needed.
/// </summary>
public sealed partial class CredentialProtector : IDisposable
{
    /// <summary>Fixed, so every operator and sidecar replica reads what the others wrote.</summary>
    public const string ApplicationName = "aigateway.dev/virtual-key-operator";

    public const string Purpose = "VirtualKeys.Registry.ProviderCredential.v1";

    private const string FingerprintPurpose = "vk credential fingerprint v1";

    // Data Protection payloads start with this magic header, then the id of the key that protected them.
    private static readonly byte[] PayloadMagic = [0x09, 0xF0, 0xC9, 0xF0];

    private readonly RegistryDatabase _database;
    private readonly KeyEncryptionKeys _keys;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly byte[] _fingerprintKey;
    private readonly Lock _gate = new();
    private readonly List<ServiceProvider> _serviceProviders = [];
    private volatile Ring _ring;

    private CredentialProtector(RegistryDatabase database, KeyEncryptionKeys keys, ILoggerFactory loggerFactory)
    {
        _database = database;
        _keys = keys;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<CredentialProtector>();
        _fingerprintKey = keys.Current.DeriveKey(FingerprintPurpose, 32);
        _ring = BuildRing();
    }

    /// <summary>Loads the KEK from its file, checks it opens the stored key ring, and builds the protector.</summary>
    /// <exception cref="RegistryProtectionException">The KEK file is unusable, or the stored ring was encrypted under another KEK or modified.</exception>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public static CredentialProtector Create(
        RegistryDatabase database,
        string keyEncryptionKeyPath,
        ILoggerFactory? loggerFactory = null) =>
        Create(database, KeyEncryptionKeys.Load(keyEncryptionKeyPath), loggerFactory);

    /// <summary>As above with a KEK already loaded; the protector takes ownership of it.</summary>
    public static CredentialProtector Create(
        RegistryDatabase database,
        KeyEncryptionKey keyEncryptionKey,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(keyEncryptionKey);
        return Create(database, KeyEncryptionKeys.From(keyEncryptionKey), loggerFactory);
    }

    /// <summary>
    /// As above with the current KEK and the previous ones still accepted for reading (during a KEK
    /// replacement); the protector takes ownership of them.
    /// </summary>
    public static CredentialProtector Create(
        RegistryDatabase database,
        KeyEncryptionKeys keyEncryptionKeys,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(keyEncryptionKeys);
        loggerFactory ??= NullLoggerFactory.Instance;
        try
        {
            var elementsByKek = VerifyKeyRing(database, keyEncryptionKeys);
            LogKeyEncryptionKeys(loggerFactory.CreateLogger<CredentialProtector>(), database, keyEncryptionKeys, elementsByKek);
            return new CredentialProtector(database, keyEncryptionKeys, loggerFactory);
        }
        catch
        {
            keyEncryptionKeys.Dispose();
            throw;
        }
    }

    /// <summary>The one-way id of the KEK that encrypts new ring elements and derives fingerprints.</summary>
    public string KeyEncryptionKeyId => _keys.Current.Id;

    /// <summary>The ids of the Data Protection keys in the shared ring, oldest first.</summary>
    public IReadOnlyList<Guid> KeyIds =>
        [.. _ring.KeyManager.GetAllKeys().OrderBy(key => key.CreationDate).Select(key => key.KeyId)];

    /// <summary>Protects a raw provider key for one virtual key (by uid) and provider: ciphertext copied to another row does not open.</summary>
    public byte[] Protect(string rawCredential, string keyUid, string providerName)
    {
        ArgumentException.ThrowIfNullOrEmpty(rawCredential);
        var plaintext = Encoding.UTF8.GetBytes(rawCredential);
        try
        {
            return _ring.Protector.CreateProtector(keyUid, providerName).Protect(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <exception cref="RegistryProtectionException">The ciphertext was modified, belongs to another key or provider, or names a ring key that is gone.</exception>
    public string Unprotect(byte[] ciphertext, string keyUid, string providerName)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        var ring = _ring;
        try
        {
            return Unprotect(ring, ciphertext, keyUid, providerName);
        }
        catch (CryptographicException ex)
        {
            if (Find<RegistryProtectionException>(ex) is { } protection)
            {
                throw protection;
            }

            if (ReadKeyId(ciphertext) is not { } keyId)
            {
                throw Tampered(providerName, ex);
            }

            if (!ring.KeyManager.GetAllKeys().Any(key => key.KeyId == keyId))
            {
                throw new RegistryProtectionException(
                    RegistryProtectionFailure.KeyNotInRing,
                    $"The credential of provider '{providerName}' was protected with Data Protection key {keyId}, which the key ring in {_database.Endpoint} does not hold (was the key ring table restored from an older backup?).",
                    ex);
            }

            // Another replica may have added that key after this one cached the ring.
            Log.RefreshingRing(_logger, keyId);
            var refreshed = Refresh(ring);
            try
            {
                return Unprotect(refreshed, ciphertext, keyUid, providerName);
            }
            catch (CryptographicException retry)
            {
                throw Find<RegistryProtectionException>(retry) ?? Tampered(providerName, retry);
            }
        }
    }

    /// <summary>
    /// HMAC-SHA256 of the raw key under a key derived from the KEK: equal credentials have equal
    /// fingerprints, so a caller can tell whether a credential changed without decrypting anything,
    /// and a database reader cannot test guesses without the KEK.
    /// </summary>
    public byte[] Fingerprint(string rawCredential)
    {
        ArgumentNullException.ThrowIfNull(rawCredential);
        return HMACSHA256.HashData(_fingerprintKey, Encoding.UTF8.GetBytes(rawCredential));
    }

    /// <summary>
    /// Adds a new Data Protection key, active now, which protects everything from here on;
    /// older keys stay in the ring, so data they protected still opens.
    /// </summary>
    public Guid RotateKey()
    {
        // Data Protection reads the system clock itself, so this must too. The newest activated key
        // is the default (NewestKeyResolver): start after every key already active, even one made by a
        // replica whose clock ran ahead; keys pre-made to activate in the future are not in the way.
        var now = DateTimeOffset.UtcNow;
        var activation = _ring.KeyManager.GetAllKeys()
            .Where(existing => existing.ActivationDate <= now + TimeSpan.FromMinutes(5))
            .Select(existing => existing.ActivationDate.AddMilliseconds(1))
            .Append(now)
            .Max();
        var ring = _ring;
        var key = ring.KeyManager.CreateNewKey(activation, activation.AddDays(90));

        // Data Protection refreshes a cached ring in the background and keeps using the old one meanwhile.
        Refresh(ring);
        Log.Rotated(_logger, key.KeyId, _database.Endpoint);
        return key.KeyId;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var provider in _serviceProviders)
            {
                provider.Dispose();
            }

            _serviceProviders.Clear();
        }

        CryptographicOperations.ZeroMemory(_fingerprintKey);
        _keys.Dispose();
    }

    /// <summary>
    /// The key new credentials are protected with now (the newest activated one, see
    /// <see cref="NewestKeyResolver"/>); null when the ring has none yet.
    /// </summary>
    internal Guid? DefaultKeyId =>
        new NewestKeyResolver().ResolveDefaultKeyPolicy(DateTimeOffset.UtcNow, _ring.KeyManager.GetAllKeys()).DefaultKey?.KeyId;

    /// <summary>The id of the ring key that protected a stored credential, read from the payload header.</summary>
    internal static Guid? ReadKeyId(byte[] ciphertext) =>
        ciphertext.Length >= PayloadMagic.Length + 16 && ciphertext.AsSpan(0, PayloadMagic.Length).SequenceEqual(PayloadMagic)
            ? new Guid(ciphertext.AsSpan(PayloadMagic.Length, 16))
            : null;

    /// <summary>
    /// Makes Data Protection load the ring, and create its first key if it has none, now rather than
    /// in the middle of a caller's transaction that locks the ring table.
    /// </summary>
    internal void EnsureDefaultKey() => _ring.Protector.Protect([0]);

    /// <summary>
    /// Opens every stored ring element with the KEK it names before anything is protected: with a
    /// wrong KEK, Data Protection would otherwise skip the unreadable keys and quietly add new ones.
    /// </summary>
    /// <returns>How many sealed elements each KEK id holds.</returns>
    private static Dictionary<string, int> VerifyKeyRing(RegistryDatabase database, KeyEncryptionKeys keys)
    {
        var decryptor = new KekXmlDecryptor(keys);
        var elementsByKek = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var element in new PostgresXmlRepository(database).GetAllElements())
        {
            foreach (var encrypted in element.Descendants(KekXmlEncryptor.ElementName))
            {
                decryptor.Decrypt(encrypted);
                var kekId = KekXmlDecryptor.ReadKekId(encrypted)!;
                elementsByKek[kekId] = elementsByKek.GetValueOrDefault(kekId) + 1;
            }
        }

        return elementsByKek;
    }

    /// <summary>Says which KEKs are in use, so an operator can tell when a previous KEK can go: ids only, never key material.</summary>
    private static void LogKeyEncryptionKeys(ILogger logger, RegistryDatabase database, KeyEncryptionKeys keys, Dictionary<string, int> elementsByKek)
    {
        Log.Opened(logger, database.Endpoint, keys.Current.Id, elementsByKek.GetValueOrDefault(keys.Current.Id));
        foreach (var previous in keys.Previous)
        {
            var count = elementsByKek.GetValueOrDefault(previous.Id);
            if (count > 0)
            {
                Log.PreviousKekInUse(logger, previous.Id, previous.Source, count);
            }
            else
            {
                Log.PreviousKekUnused(logger, previous.Id, previous.Source);
            }
        }
    }

    private static string Unprotect(Ring ring, byte[] ciphertext, string keyUid, string providerName)
    {
        var plaintext = ring.Protector.CreateProtector(keyUid, providerName).Unprotect(ciphertext);
        try
        {
            return Encoding.UTF8.GetString(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static T? Find<T>(Exception exception)
        where T : Exception
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is T match)
            {
                return match;
            }
        }

        return null;
    }

    private static RegistryProtectionException Tampered(string providerName, Exception inner) =>
        new(
            RegistryProtectionFailure.Tampered,
            $"The stored credential of provider '{providerName}' failed its integrity check: the ciphertext was modified, corrupted, or copied from another key.",
            inner);

    private Ring Refresh(Ring stale)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_ring, stale))
            {
                _ring = BuildRing();
            }

            return _ring;
        }
    }

    private Ring BuildRing()
    {
        var services = new ServiceCollection();
        services.AddSingleton(_keys);
        services.AddSingleton(_loggerFactory);
        services.AddLogging();
        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.AddSingleton<IDefaultKeyResolver, NewestKeyResolver>();
        services.Configure<KeyManagementOptions>(options =>
        {
            options.XmlRepository = new PostgresXmlRepository(_database);
            options.XmlEncryptor = new KekXmlEncryptor(_keys.Current);
        });

        var provider = services.BuildServiceProvider();
        lock (_gate)
        {
            _serviceProviders.Add(provider);
        }

        return new Ring(
            provider.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose),
            provider.GetRequiredService<IKeyManager>());
    }

    private sealed record Ring(IDataProtector Protector, IKeyManager KeyManager);

    private static partial class Log
    {
        [LoggerMessage(2001, LogLevel.Information, "Data Protection key {KeyId} is not in the cached key ring; reloading the ring")]
        public static partial void RefreshingRing(ILogger logger, Guid keyId);

        [LoggerMessage(2002, LogLevel.Information, "Created Data Protection key {KeyId} in {Endpoint}; it protects new credentials from now on")]
        public static partial void Rotated(ILogger logger, Guid keyId, string endpoint);

        [LoggerMessage(2003, LogLevel.Information, "Opened the key ring in {Endpoint} with key-encryption key {KekId}, which seals {ElementCount} of its elements and every new one")]
        public static partial void Opened(ILogger logger, string endpoint, string kekId, int elementCount);

        [LoggerMessage(2004, LogLevel.Warning, "{ElementCount} key ring elements are still sealed under the previous key-encryption key {KekId} ({Source}): run 'vk registry replace-kek' before removing it")]
        public static partial void PreviousKekInUse(ILogger logger, string kekId, string source, int elementCount);

        [LoggerMessage(2005, LogLevel.Information, "No key ring element is sealed under the previous key-encryption key {KekId} ({Source}) any more; it can be removed once every replica runs with the new one")]
        public static partial void PreviousKekUnused(ILogger logger, string kekId, string source);
    }
}
