using k8s.Models;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// What the operator's Secret cache keeps of each Secret. The cache holds every Secret of the
/// watched namespaces (all of them by default), because any of them may be named as a provider
/// Secret later. Most are never read: Helm's release records (up to 1 MiB each, one per revision
/// kept), TLS certificates, service-account and bootstrap tokens, image pull credentials. Their data
/// is dropped, as is every Secret's <c>metadata.managedFields</c>, which nothing here reads.
/// </summary>
/// <remarks>
/// A provider key must therefore live in a Secret of another type (Opaque, as
/// <c>kubectl create secret generic</c> and External Secrets Operator make them, or a type of its
/// own); the reconciler says so when a key names one of these. Token Secrets are Opaque: their
/// data is kept, and the reconciler never writes a Secret whose data was dropped (it is not owned
/// by a key, so it is refused as a token Secret before any write).
/// </remarks>
public static class SecretCacheTrim
{
    /// <summary>Secret types whose data the cache drops.</summary>
    public static IReadOnlySet<string> DataOmittedTypes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "helm.sh/release.v1",
        "kubernetes.io/tls",
        "kubernetes.io/service-account-token",
        "bootstrap.kubernetes.io/token",
        "kubernetes.io/dockerconfigjson",
        "kubernetes.io/dockercfg",
    };

    public static V1Secret Trim(V1Secret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (secret.Metadata is not null)
        {
            secret.Metadata.ManagedFields = null;
        }

        if (OmitsData(secret))
        {
            secret.Data = null;
            secret.StringData = null;
        }

        return secret;
    }

    /// <summary>Whether the cache holds no data for this Secret (by its type).</summary>
    public static bool OmitsData(V1Secret secret) =>
        secret.Type is { } type && DataOmittedTypes.Contains(type);
}
