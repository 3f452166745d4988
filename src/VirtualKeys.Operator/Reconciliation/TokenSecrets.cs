using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// The token Secret: the token under <see cref="WellKnown.TokenSecretKey"/>, owned by its
/// VirtualKey (so the API server's garbage collector removes it with the key), with annotations
/// recording which rotation request it answers and when its token was issued. Written before the
/// token's hash is registered: after a crash between the two, the next reconcile registers
/// whatever token the Secret holds, so no issued token is ever lost or doubled.
/// </summary>
public static class TokenSecrets
{
    /// <summary>The value of the key's rotate-token annotation this Secret's token answers.</summary>
    public const string HandledRotationAnnotation = WellKnown.Group + "/rotate-token-handled";

    /// <summary>When the token was issued: the previous token is refused from this plus the rotation grace.</summary>
    public const string IssuedAtAnnotation = WellKnown.Group + "/token-issued-at";

    /// <summary>Labels the token Secret with its key's name; see <see cref="KeyLabelValue"/>.</summary>
    public const string KeyLabel = WellKnown.Group + "/virtual-key";

    /// <summary>The API server refuses a longer label value, though metadata.name may have 253 characters.</summary>
    private const int MaxLabelValueLength = 63;

    /// <summary>Hex digits of the name's SHA-256 that stand for the part of a long name cut off.</summary>
    private const int NameHashLength = 10;

    public static V1Secret Build(VirtualKey key, string name, VirtualKeyToken token, string? handledRotation, DateTimeOffset issuedAt)
    {
        var annotations = new Dictionary<string, string> { [IssuedAtAnnotation] = Format(issuedAt) };
        if (!string.IsNullOrEmpty(handledRotation))
        {
            annotations[HandledRotationAnnotation] = handledRotation;
        }

        return new V1Secret
        {
            ApiVersion = "v1",
            Kind = "Secret",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = key.Metadata.NamespaceProperty,
                Labels = new Dictionary<string, string>
                {
                    [KeyLabel] = KeyLabelValue(key.Metadata.Name),
                    ["app.kubernetes.io/managed-by"] = "virtual-key-operator",
                },
                Annotations = annotations,
                OwnerReferences = [Owner(key)],
            },
            Type = "Opaque",
            Data = new Dictionary<string, byte[]> { [WellKnown.TokenSecretKey] = Encoding.UTF8.GetBytes(token.Reveal()) },
        };
    }

    public static V1OwnerReference Owner(VirtualKey key) => new()
    {
        ApiVersion = WellKnown.ApiVersion,
        Kind = WellKnown.Kind,
        Name = key.Metadata.Name,
        Uid = key.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    public static bool IsOwnedBy(V1Secret secret, VirtualKey key) =>
        secret.Metadata.OwnerReferences?.Any(r => r.Controller == true && r.Uid == key.Metadata.Uid) == true;

    /// <summary>Another object controls the Secret: it is not ours to write.</summary>
    public static bool IsControlledByAnother(V1Secret secret, VirtualKey key) =>
        secret.Metadata.OwnerReferences?.Any(r => r.Controller == true && r.Uid != key.Metadata.Uid) == true;

    /// <summary>Ours, but its owner reference was removed: labelled for this key and holding a token of its key id.</summary>
    public static bool LooksOrphanedFrom(V1Secret secret, VirtualKey key, string keyId) =>
        secret.Metadata.Labels?.TryGetValue(KeyLabel, out var owner) == true
        && owner == KeyLabelValue(key.Metadata.Name)
        && ReadToken(secret)?.KeyId == keyId;

    /// <summary>
    /// The value of <see cref="KeyLabel"/> for a key: its name when that fits a label value, else the
    /// name's start and a hash of the whole name, so that long names sharing a start still differ. A
    /// VirtualKey name is a DNS subdomain, so both forms start and end with a letter or digit as a
    /// label value must.
    /// </summary>
    public static string KeyLabelValue(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length <= MaxLabelValueLength)
        {
            return name;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..NameHashLength];
        return name[..(MaxLabelValueLength - NameHashLength - 1)].TrimEnd('-', '.') + "-" + hash;
    }

    public static VirtualKeyToken? ReadToken(V1Secret secret) =>
        secret.Data?.TryGetValue(WellKnown.TokenSecretKey, out var bytes) == true
        && VirtualKeyToken.TryParse(Encoding.UTF8.GetString(bytes), out var token)
            ? token
            : null;

    public static string? HandledRotation(V1Secret secret) =>
        secret.Metadata.Annotations?.TryGetValue(HandledRotationAnnotation, out var value) == true ? value : null;

    public static DateTimeOffset IssuedAt(V1Secret secret) =>
        secret.Metadata.Annotations?.TryGetValue(IssuedAtAnnotation, out var text) == true
        && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : new DateTimeOffset(DateTime.SpecifyKind(secret.Metadata.CreationTimestamp ?? DateTime.UnixEpoch, DateTimeKind.Utc));

    /// <summary>A copy of <paramref name="secret"/> holding <paramref name="token"/>, for a replace that keeps its resourceVersion.</summary>
    public static V1Secret WithToken(V1Secret secret, VirtualKeyToken token, string? handledRotation, DateTimeOffset issuedAt)
    {
        var annotations = new Dictionary<string, string>(secret.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            [IssuedAtAnnotation] = Format(issuedAt),
        };
        if (!string.IsNullOrEmpty(handledRotation))
        {
            annotations[HandledRotationAnnotation] = handledRotation;
        }

        var data = new Dictionary<string, byte[]>(secret.Data ?? new Dictionary<string, byte[]>())
        {
            [WellKnown.TokenSecretKey] = Encoding.UTF8.GetBytes(token.Reveal()),
        };
        return new V1Secret
        {
            ApiVersion = "v1",
            Kind = "Secret",
            Metadata = new V1ObjectMeta
            {
                Name = secret.Metadata.Name,
                NamespaceProperty = secret.Metadata.NamespaceProperty,
                ResourceVersion = secret.Metadata.ResourceVersion,
                Uid = secret.Metadata.Uid,
                Labels = secret.Metadata.Labels,
                Annotations = annotations,
                OwnerReferences = secret.Metadata.OwnerReferences,
                Finalizers = secret.Metadata.Finalizers,
            },
            Type = secret.Type,
            Data = data,
        };
    }

    private static string Format(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
