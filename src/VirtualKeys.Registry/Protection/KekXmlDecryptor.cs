using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Decrypts what <see cref="KekXmlEncryptor"/> wrote, with whichever loaded KEK (current or previous)
/// carries the id written beside the element. Data Protection creates it by type name with the
/// service provider that <see cref="CredentialProtector"/> builds, which holds the KEKs.
/// </summary>
public sealed class KekXmlDecryptor : IXmlDecryptor
{
    private readonly KeyEncryptionKeys _keys;

    public KekXmlDecryptor(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _keys = services.GetService<KeyEncryptionKeys>()
            ?? throw new InvalidOperationException("No KeyEncryptionKeys are registered: build the protector with CredentialProtector.Create.");
    }

    internal KekXmlDecryptor(KeyEncryptionKeys keys) => _keys = keys;

    /// <exception cref="RegistryProtectionException">No loaded KEK has the element's id, or the element was modified.</exception>
    public XElement Decrypt(XElement encryptedElement)
    {
        var kekId = ReadKekId(encryptedElement);
        var kek = _keys.Find(kekId) ?? throw WrongKeyEncryptionKey(kekId, _keys);
        return XElement.Parse(Encoding.UTF8.GetString(Open(encryptedElement, kek)));
    }

    /// <summary>The id of the KEK an element was sealed under, as written beside it.</summary>
    /// <exception cref="RegistryProtectionException">The element is not one <see cref="KekXmlEncryptor"/> writes.</exception>
    internal static string? ReadKekId(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        if (encryptedElement.Name != KekXmlEncryptor.ElementName)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.Tampered,
                $"A Data Protection key ring element has the unexpected form <{encryptedElement.Name.LocalName}>: the key ring table was modified.");
        }

        return (string?)encryptedElement.Attribute("kekId");
    }

    /// <summary>The plaintext of an element sealed under <paramref name="kek"/> (the caller checked the id).</summary>
    /// <exception cref="RegistryProtectionException">The element was modified, or is not sealed under that KEK.</exception>
    internal static byte[] Open(XElement encryptedElement, KeyEncryptionKey kek)
    {
        var kekId = ReadKekId(encryptedElement);
        try
        {
            var sealedData = Convert.FromBase64String(encryptedElement.Value);
            var plaintext = kek.Decrypt(sealedData, KekXmlEncryptor.AssociatedData(kekId ?? ""));

            // Parsing here reports a garbled element as tampering, not as an XML error later.
            _ = XElement.Parse(Encoding.UTF8.GetString(plaintext));
            return plaintext;
        }
        catch (Exception ex) when (ex is AuthenticationTagMismatchException or CryptographicException or FormatException or System.Xml.XmlException)
        {
            throw new RegistryProtectionException(
                RegistryProtectionFailure.Tampered,
                $"A Data Protection key ring element (KEK id {kekId}) failed its integrity check: the key ring table was modified or corrupted.",
                ex);
        }
    }

    internal static RegistryProtectionException WrongKeyEncryptionKey(string? kekId, KeyEncryptionKeys keys) =>
        new(
            RegistryProtectionFailure.WrongKeyEncryptionKey,
            keys.Previous.Count == 0
                ? $"The Data Protection key ring was encrypted under the key-encryption key with id {kekId ?? "(none)"}, but {keys.Current.Source} holds the key with id {keys.Current.Id}: mount the KEK Secret this registry was created with (or, while a KEK replacement rolls out, list the old KEK file in Registry:PreviousKekFiles)."
                : $"The Data Protection key ring holds an element encrypted under the key-encryption key with id {kekId ?? "(none)"}, but none of the KEK files loaded holds it ({keys.Describe()}): mount the KEK Secret that element was written with.");
}
