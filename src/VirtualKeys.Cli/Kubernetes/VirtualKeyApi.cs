using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.Cli.Running;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Kubernetes;

/// <summary>
/// VirtualKeys and their Secrets through the official client, with the refusals a user meets turned
/// into messages that name the object ("virtualkey default/foo not found").
/// </summary>
internal sealed class VirtualKeyApi(IKubernetes client)
{
    public async Task<VirtualKey> GetAsync(string ns, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(
                WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, name, cancellationToken);
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound))
        {
            throw NotFound(ex, "virtualkey", ns, name);
        }
    }

    /// <summary>The VirtualKeys of <paramref name="ns"/>, or of every namespace when it is null, sorted by namespace and name.</summary>
    public async Task<IReadOnlyList<VirtualKey>> ListAsync(string? ns, CancellationToken cancellationToken)
    {
        VirtualKeyList list;
        try
        {
            list = ns is null
                ? await client.CustomObjects.ListCustomObjectForAllNamespacesAsync<VirtualKeyList>(
                    WellKnown.Group, WellKnown.Version, WellKnown.Plural, cancellationToken: cancellationToken)
                : await client.CustomObjects.ListNamespacedCustomObjectAsync<VirtualKeyList>(
                    WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound))
        {
            throw CrdMissing();
        }

        return [.. list.Items
            .OrderBy(key => key.Metadata.NamespaceProperty, StringComparer.Ordinal)
            .ThenBy(key => key.Metadata.Name, StringComparer.Ordinal)];
    }

    /// <summary>Creates the key, or replaces its spec, labels and annotations when it exists.</summary>
    /// <returns>"created", "configured" or "unchanged", as kubectl apply says it.</returns>
    public async Task<string> CreateOrUpdateAsync(VirtualKey virtualKey, CancellationToken cancellationToken)
    {
        var ns = virtualKey.Metadata.NamespaceProperty;
        var name = virtualKey.Metadata.Name;
        try
        {
            await client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(
                virtualKey, WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, cancellationToken: cancellationToken);
            return "created";
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound))
        {
            throw NotFound(ex, "virtualkey", ns, name);
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.Conflict))
        {
            // Exists already: replace below.
        }

        var current = await GetAsync(ns, name, cancellationToken);
        var unchanged = Json(current.Spec) == Json(virtualKey.Spec);
        if (unchanged)
        {
            return "unchanged";
        }

        current.Spec = virtualKey.Spec;
        await client.CustomObjects.ReplaceNamespacedCustomObjectAsync<VirtualKey>(
            current, WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, name, cancellationToken: cancellationToken);
        return "configured";
    }

    /// <summary>A JSON merge patch of metadata.annotations: other annotations and fields stay as they are.</summary>
    public async Task<VirtualKey> SetAnnotationAsync(string ns, string name, string annotation, string value, CancellationToken cancellationToken)
    {
        var patch = new V1Patch(
            new Dictionary<string, object> { ["metadata"] = new Dictionary<string, object> { ["annotations"] = new Dictionary<string, string> { [annotation] = value } } },
            V1Patch.PatchType.MergePatch);
        try
        {
            return await client.CustomObjects.PatchNamespacedCustomObjectAsync<VirtualKey>(
                patch, WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, name, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound))
        {
            throw NotFound(ex, "virtualkey", ns, name);
        }
    }

    /// <summary>The Secret, or null when it does not exist.</summary>
    public async Task<V1Secret?> FindSecretAsync(string ns, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound))
        {
            return null;
        }
    }

    private static string Json(object value) => KubernetesJson.Serialize(value);

    // A 404 names the missing object in its details; one for a resource type the server does not serve has none.
    private static CliException NotFound(HttpOperationException ex, string kind, string ns, string name)
    {
        var status = ApiStatus.From(ex);
        if (status.DetailsKind == "namespaces")
        {
            return new CliException($"namespace {ns} not found");
        }

        return status.DetailsName is null ? CrdMissing() : new CliException($"{kind} {ns}/{name} not found");
    }

    private static CliException CrdMissing() =>
        new($"the cluster does not serve {WellKnown.Plural}.{WellKnown.Group}: install the CRD first (vk crd | kubectl apply -f -)");
}
