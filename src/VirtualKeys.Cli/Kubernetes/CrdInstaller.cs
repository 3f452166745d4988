using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.Cli.Running;
using VirtualKeys.Model;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Cli.Kubernetes;

/// <summary>Installs the VirtualKey CRD generated from the C# model, or brings an installed one up to date.</summary>
internal static class CrdInstaller
{
    /// <returns>"created" or "configured".</returns>
    public static async Task<string> InstallAsync(IKubernetes client, CancellationToken cancellationToken)
    {
        var crd = CrdGenerator.Generate(typeof(VirtualKey));
        try
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: cancellationToken);
            return "created";
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.Conflict))
        {
            var current = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(crd.Metadata.Name, cancellationToken: cancellationToken);
            crd.Metadata.ResourceVersion = current.Metadata.ResourceVersion;
            await client.ApiextensionsV1.ReplaceCustomResourceDefinitionAsync(crd, crd.Metadata.Name, cancellationToken: cancellationToken);
            return "configured";
        }
    }

    /// <summary>Waits until the API server serves VirtualKeys (a real server takes a moment after the CRD is created).</summary>
    public static async Task WaitUntilServedAsync(IKubernetes client, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await client.CustomObjects.ListCustomObjectForAllNamespacesAsync<VirtualKeyList>(
                    WellKnown.Group, WellKnown.Version, WellKnown.Plural, limit: 1, cancellationToken: cancellationToken);
                return;
            }
            catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
            catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.NotFound))
            {
                throw new CliException($"the API server did not start serving {WellKnown.CrdName} within {timeout.TotalSeconds:0}s after its CRD was installed", ex);
            }
        }
    }
}
