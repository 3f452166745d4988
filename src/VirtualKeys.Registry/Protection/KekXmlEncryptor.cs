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
        var sealedData = keyEncryptionKey.Encrypt(plaintext, AssociatedData(keyEncryptionKey.Id));
        var element = new XElement(
            ElementName,
            new XAttribute("version", "1"),
            new XAttribute("kekId", keyEncryptionKey.Id),
            Convert.ToBase64String(sealedData));
        return new EncryptedXmlInfo(element, typeof(KekXmlDecryptor));
    }

    internal static byte[] AssociatedData(string kekId) => Encoding.UTF8.GetBytes("vk key ring v1 " + kekId);
}
