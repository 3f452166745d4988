using System.Security.Cryptography;
using System.Text;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// The key-encryption key (KEK) that encrypts the Data Protection key ring stored in PostgreSQL.
/// </summary>
/// <remarks>
/// <para>
/// File format: 32 random bytes encoded as standard base64 (44 characters) on one line; surrounding
/// whitespace is ignored. Text survives <c>kubectl create secret generic --from-file</c>, YAML
/// <c>stringData</c> and copy-paste unchanged, which raw bytes do not. <see cref="WriteNewFile"/>
/// or <see cref="GenerateBase64"/> make one.
/// </para>
/// <para>
/// The fingerprint key for provider credentials is derived from it (HKDF), so replacing the KEK
/// means re-encrypting the key ring and re-fingerprinting credentials: <see cref="KekReplacement"/>
/// does both in one transaction. <see cref="KeyEncryptionKeys"/> holds the current KEK together with
/// the ones still accepted for reading while a replacement rolls out.
/// </para>
/// </remarks>
public sealed class KeyEncryptionKey : IDisposable
{
    public const int SizeInBytes = 32;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly byte[] _key;

    private KeyEncryptionKey(byte[] key, string source)
    {
        _key = key;
        Source = source;
        Id = Convert.ToHexStringLower(HKDF.DeriveKey(HashAlgorithmName.SHA256, key, 8, info: "vk kek id v1"u8.ToArray()));
    }

    /// <summary>
    /// A short identifier derived one-way from the key, written beside each encrypted element,
    /// so a wrong KEK is reported as such instead of as corruption.
    /// </summary>
    public string Id { get; }

    /// <summary>Where the key came from (a file path), for messages.</summary>
    public string Source { get; }

    /// <exception cref="RegistryProtectionException">Missing, unreadable or malformed file (<see cref="RegistryProtectionFailure.KeyEncryptionKeyUnavailable"/>).</exception>
    public static KeyEncryptionKey Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.ASCII);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.KeyEncryptionKeyUnavailable,
                $"The key-encryption key file {path} cannot be read ({ex.GetType().Name}): mount the KEK Secret there.",
                ex);
        }

        var buffer = new byte[text.Length];
        if (!Convert.TryFromBase64String(text.Trim(), buffer, out var written) || written != SizeInBytes)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.KeyEncryptionKeyUnavailable,
                $"The key-encryption key file {path} must hold {SizeInBytes} random bytes encoded as base64 (44 characters); it does not.");
        }

        var key = buffer[..SizeInBytes];
        CryptographicOperations.ZeroMemory(buffer);
        return new KeyEncryptionKey(key, path);
    }

    public static KeyEncryptionKey FromBytes(ReadOnlySpan<byte> key, string source = "memory")
    {
        if (key.Length != SizeInBytes)
        {
            throw new ArgumentException($"A key-encryption key is {SizeInBytes} bytes, not {key.Length}.", nameof(key));
        }

        return new KeyEncryptionKey(key.ToArray(), source);
    }

    /// <summary>32 fresh random bytes as base64, the content of a KEK file or Secret value.</summary>
    public static string GenerateBase64() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(SizeInBytes));

    /// <summary>Writes a new KEK file readable by its owner only; refuses to overwrite one.</summary>
    public static void WriteNewFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, Encoding.ASCII, options);
        writer.WriteLine(GenerateBase64());
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);

    /// <summary>An independent copy, for an owner that disposes its keys (a protector) while the caller keeps using this one.</summary>
    internal KeyEncryptionKey Copy() => new(_key.ToArray(), Source);

    /// <returns>nonce || ciphertext || tag</returns>
    internal byte[] Encrypt(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length), associatedData);
        return output;
    }

    /// <exception cref="AuthenticationTagMismatchException">Modified ciphertext, or another key.</exception>
    internal byte[] Decrypt(ReadOnlySpan<byte> sealedData, ReadOnlySpan<byte> associatedData)
    {
        if (sealedData.Length < NonceSize + TagSize)
        {
            throw new AuthenticationTagMismatchException();
        }

        var plaintext = new byte[sealedData.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(sealedData[..NonceSize], sealedData[NonceSize..^TagSize], sealedData[^TagSize..], plaintext, associatedData);
        return plaintext;
    }

    internal byte[] DeriveKey(string purpose, int length) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _key, length, info: Encoding.UTF8.GetBytes(purpose));
}
