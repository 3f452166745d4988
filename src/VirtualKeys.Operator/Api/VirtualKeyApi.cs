using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Runtime;

namespace VirtualKeys.Operator.Api;

/// <summary>
/// Every API-server write the reconciler and the usage syncer make, each one named for
/// <see cref="IExternalCallObserver"/> and listed in <see cref="Rbac.OperatorPermissions"/>. Writes
/// to a VirtualKey carry the resourceVersion they were computed from, so a stale cache ends in
/// 409 Conflict and a retry, never in a lost update.
/// </summary>
public sealed class VirtualKeyApi(IKubernetes client, IExternalCallObserver observer)
{
    public async Task<VirtualKey> AddFinalizerAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        var finalizers = (key.Metadata.Finalizers ?? []).Append(WellKnown.Finalizer).Distinct(StringComparer.Ordinal).ToList();
        var patch = new { metadata = new { finalizers, resourceVersion = key.Metadata.ResourceVersion } };
        observer.BeforeCall("api:virtualkeys:patch");
        return await client.CustomObjects.PatchNamespacedCustomObjectAsync<VirtualKey>(
            new V1Patch(patch, V1Patch.PatchType.MergePatch),
            WellKnown.Group,
            WellKnown.Version,
            key.Metadata.NamespaceProperty,
            WellKnown.Plural,
            key.Metadata.Name,
            cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Removes the operator's finalizer; on a conflict it reads the key once more and retries, since
    /// a deleting key's other writers (other finalizers) must not make this one wait a backoff.
    /// Returns false when the key is already gone.
    /// </summary>
    public async Task<bool> RemoveFinalizerAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var copy = Copy(key);
            copy.Metadata.Finalizers = [.. (copy.Metadata.Finalizers ?? []).Where(f => f != WellKnown.Finalizer)];
            observer.BeforeCall("api:virtualkeys:update");
            try
            {
                await client.CustomObjects.ReplaceNamespacedCustomObjectAsync<VirtualKey>(
                    copy,
                    WellKnown.Group,
                    WellKnown.Version,
                    key.Metadata.NamespaceProperty,
                    WellKnown.Plural,
                    key.Metadata.Name,
                    cancellationToken: cancellationToken);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt == 0)
            {
                observer.BeforeCall("api:virtualkeys:get");
                try
                {
                    key = await client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(
                        WellKnown.Group, WellKnown.Version, key.Metadata.NamespaceProperty, WellKnown.Plural, key.Metadata.Name, cancellationToken);
                }
                catch (HttpOperationException gone) when (gone.Response.StatusCode == HttpStatusCode.NotFound)
                {
                    return false;
                }

                if (key.Metadata.Finalizers?.Contains(WellKnown.Finalizer) != true)
                {
                    return true;
                }
            }
        }
    }

    public async Task<VirtualKey> ReplaceStatusAsync(VirtualKey key, VirtualKeyStatus status, CancellationToken cancellationToken)
    {
        var copy = Copy(key);
        copy.Status = status;
        observer.BeforeCall("api:virtualkeys/status:update");
        return await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<VirtualKey>(
            copy,
            WellKnown.Group,
            WellKnown.Version,
            key.Metadata.NamespaceProperty,
            WellKnown.Plural,
            key.Metadata.Name,
            cancellationToken: cancellationToken);
    }

    /// <summary>
    /// The usage syncer's write: a merge patch of the status fields it owns plus the conditions,
    /// guarded by the resourceVersion its copy came from. A merge patch keeps whatever it does not
    /// mention, so every field that is now empty is sent as an explicit null, and so is every
    /// rejection cause the new period no longer has.
    /// </summary>
    public async Task<VirtualKey> PatchStatusAsync(VirtualKey key, VirtualKeyStatus status, CancellationToken cancellationToken)
    {
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["resourceVersion"] = key.Metadata.ResourceVersion },
            ["status"] = new JsonObject
            {
                ["conditions"] = ToNode(status.Conditions),
                ["usage"] = UsagePatch(key.Status?.Usage, status.Usage),
                ["budgetRemainingUsd"] = status.BudgetRemainingUsd,
                ["lastUsageSync"] = ToNode(status.LastUsageSync),
            },
        };
        observer.BeforeCall("api:virtualkeys/status:patch");
        return await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync<VirtualKey>(
            new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch),
            WellKnown.Group,
            WellKnown.Version,
            key.Metadata.NamespaceProperty,
            WellKnown.Plural,
            key.Metadata.Name,
            cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Reads a key from the API server, not the cache; null when the API server says there is no
    /// VirtualKey of that name. Only a NotFound that names the object counts: a 404 for the resource
    /// itself (a CRD version no longer served, a proxy in front of the API server) is thrown.
    /// </summary>
    public async Task<VirtualKey?> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        observer.BeforeCall("api:virtualkeys:get");
        try
        {
            return await client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(
                WellKnown.Group, WellKnown.Version, @namespace, WellKnown.Plural, name, cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound && NamesObject(e.Response.Content, name))
        {
            return null;
        }
    }

    private static bool NamesObject(string? content, string name) =>
        ApiStatus.Read(content) is { Reason: "NotFound", Details.Name: var named } && named == name;

    /// <summary>Reads a key through its status subresource: the usage syncer's fresh copy after a conflict.</summary>
    public async Task<VirtualKey?> ReadStatusAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        observer.BeforeCall("api:virtualkeys/status:get");
        try
        {
            return await client.CustomObjects.GetNamespacedCustomObjectStatusAsync<VirtualKey>(
                WellKnown.Group, WellKnown.Version, @namespace, WellKnown.Plural, name, cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Null when a Secret of that name already exists (the caller reads it instead).</summary>
    public async Task<V1Secret?> CreateSecretAsync(V1Secret secret, CancellationToken cancellationToken)
    {
        observer.BeforeCall("api:secrets:create");
        try
        {
            return await client.CoreV1.CreateNamespacedSecretAsync(secret, secret.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            return null;
        }
    }

    public async Task<V1Secret?> ReadSecretAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        observer.BeforeCall("api:secrets:get");
        try
        {
            return await client.CoreV1.ReadNamespacedSecretAsync(name, @namespace, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<V1Secret> ReplaceSecretAsync(V1Secret secret, CancellationToken cancellationToken)
    {
        observer.BeforeCall("api:secrets:update");
        return await client.CoreV1.ReplaceNamespacedSecretAsync(secret, secret.Metadata.Name, secret.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
    }

    /// <summary>Puts the controller owner reference back on a token Secret that lost it (GC must follow the key).</summary>
    public async Task<V1Secret> PatchSecretOwnerAsync(V1Secret secret, V1OwnerReference owner, CancellationToken cancellationToken)
    {
        var references = (secret.Metadata.OwnerReferences ?? []).Where(r => r.Uid != owner.Uid).Append(owner).ToList();
        var patch = new { metadata = new { ownerReferences = references, resourceVersion = secret.Metadata.ResourceVersion } };
        observer.BeforeCall("api:secrets:patch");
        return await client.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch(patch, V1Patch.PatchType.MergePatch), secret.Metadata.Name, secret.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
    }

    private static JsonObject? UsagePatch(UsageStatus? previous, UsageStatus? usage)
    {
        if (usage is null)
        {
            return null;
        }

        var node = (JsonObject)ToNode(usage)!;
        foreach (var field in new[] { "periodStart", "costUsd", "rejections", "lastRequestTime" })
        {
            if (!node.ContainsKey(field))
            {
                node[field] = null;
            }
        }

        if (node["rejections"] is JsonObject rejections)
        {
            foreach (var cause in previous?.Rejections?.Keys ?? [])
            {
                if (!rejections.ContainsKey(cause))
                {
                    rejections[cause] = null;
                }
            }
        }

        return node;
    }

    private static JsonNode? ToNode<TValue>(TValue value) => value is null ? null : JsonNode.Parse(KubernetesJson.Serialize(value));

    public static VirtualKey Copy(VirtualKey key) => KubernetesJson.Deserialize<VirtualKey>(KubernetesJson.Serialize(key));

    public static bool IsConflict(Exception e) => e is HttpOperationException { Response.StatusCode: HttpStatusCode.Conflict };
}
