using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace VirtualKeys.Registry.Protection;

/// <summary>Encrypts each key ring element with AES-256-GCM under the <see cref="KeyEncryptionKey"/>.</summary>
public sealed class KekXmlEncryptor(KeyEncryptionKey keyEncryptionKey) : IXmlEncryptor
{
    internal static readonly XNamespace Namespace = "urn:aigateway.dev:virtual-keys:kek";
    internal static readonly XName ElementName = Namespace + "encryptedElement";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        return new EncryptedXmlInfo(Seal(plaintext, keyEncryptionKey), typeof(KekXmlDecryptor));
    }

    /// <summary>The sealed form of a ring element's plaintext under <paramref name="kek"/>; also what a KEK replacement writes.</summary>
    internal static XElement Seal(ReadOnlySpan<byte> plaintext, KeyEncryptionKey kek)
    {
        var sealedData = kek.Encrypt(plaintext, AssociatedData(kek.Id));
        return new XElement(
            ElementName,
            new XAttribute("version", "1"),
            new XAttribute("kekId", kek.Id),
            Convert.ToBase64String(sealedData));
    }

    internal static byte[] AssociatedData(string kekId) => Encoding.UTF8.GetBytes("vk key ring v1 " + kekId);
}
