using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.Model;

namespace VirtualKeys.EndToEnd.Tests.Scenario;

/// <summary>What every end-to-end scenario needs first: the CRD, installed from config/crd/bases as a user would.</summary>
internal static class ClusterSetup
{
    private static readonly TimeSpan CrdTimeout = TimeSpan.FromSeconds(60);

    public static string Manifests => Path.Combine(AppContext.BaseDirectory, "manifests");

    /// <summary>Creates the CRD (or leaves it when it exists) and waits until it is Established and served.</summary>
    public static async Task InstallCrdAsync(Kubernetes client, string @namespace, CancellationToken cancellationToken)
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
            await File.ReadAllTextAsync(Path.Combine(Manifests, "aigateway.dev_virtualkeys.yaml"), cancellationToken));
        Assert.Equal(WellKnown.CrdName, crd.Metadata.Name);
        try
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Installed already (a cluster shared between scenarios): the established check below still applies.
        }

        await Poll.UntilAsync($"CRD {WellKnown.CrdName} Established", CrdTimeout, async ct =>
        {
            var current = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(WellKnown.CrdName, cancellationToken: ct);
            var established = current.Status?.Conditions?.FirstOrDefault(c => c.Type == "Established");
            return (established?.Status == "True" ? current : null, established is null ? "no Established condition" : $"Established={established.Status} ({established.Reason})");
        }, cancellationToken);

        // Established can precede the resource's discovery and handlers by a moment on a real API server.
        await Poll.UntilAsync($"{WellKnown.Plural} served", CrdTimeout, async ct =>
        {
            try
            {
                await client.CustomObjects.ListNamespacedCustomObjectAsync(WellKnown.Group, WellKnown.Version, @namespace, WellKnown.Plural, cancellationToken: ct);
                return ((object?)true, "served");
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return (null, "404 Not Found");
            }
        }, cancellationToken);
    }
}
