using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Decrypts what <see cref="KekXmlEncryptor"/> wrote. Data Protection creates it by type name with the
/// service provider that <see cref="CredentialProtector"/> builds, which holds the KEK.
/// </summary>
public sealed class KekXmlDecryptor : IXmlDecryptor
{
    private readonly KeyEncryptionKey _keyEncryptionKey;

    public KekXmlDecryptor(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _keyEncryptionKey = services.GetService<KeyEncryptionKey>()
            ?? throw new InvalidOperationException("No KeyEncryptionKey is registered: build the protector with CredentialProtector.Create.");
    }

    internal KekXmlDecryptor(KeyEncryptionKey keyEncryptionKey) => _keyEncryptionKey = keyEncryptionKey;

    /// <exception cref="RegistryProtectionException">Wrong KEK, or the element was modified.</exception>
    public XElement Decrypt(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        if (encryptedElement.Name != KekXmlEncryptor.ElementName)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.Tampered,
                $"A Data Protection key ring element has the unexpected form <{encryptedElement.Name.LocalName}>: the key ring table was modified.");
        }

        var kekId = (string?)encryptedElement.Attribute("kekId");
        if (kekId != _keyEncryptionKey.Id)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.WrongKeyEncryptionKey,
                $"The Data Protection key ring was encrypted under the key-encryption key with id {kekId ?? "(none)"}, but {_keyEncryptionKey.Source} holds the key with id {_keyEncryptionKey.Id}: mount the KEK Secret this registry was created with.");
        }

        try
        {
            var sealedData = Convert.FromBase64String(encryptedElement.Value);
            var plaintext = _keyEncryptionKey.Decrypt(sealedData, KekXmlEncryptor.AssociatedData(kekId));
            return XElement.Parse(Encoding.UTF8.GetString(plaintext));
        }
        catch (Exception ex) when (ex is AuthenticationTagMismatchException or CryptographicException or FormatException or System.Xml.XmlException)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.Tampered,
                $"A Data Protection key ring element (KEK id {kekId}) failed its integrity check: the key ring table was modified or corrupted.",
                ex);
        }
    }
}
