using System.Net;
using System.Text;
using k8s;

namespace VirtualKeys.LocalCluster.Tests.Backends;

/// <summary>
/// The suite's own CRDs: a namespaced Widget (status and scale subresources, printer columns,
/// a schema with every constraint the validator supports) and a cluster-scoped Gadget.
/// </summary>
public static class TestCrds
{
    public const string Group = "test.vk.dev";
    public const string Version = "v1";
    public const string Widgets = "widgets";
    public const string Gadgets = "gadgets";

    public const string WidgetCrd = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
         "metadata":{"name":"widgets.test.vk.dev"},
         "spec":{"group":"test.vk.dev","scope":"Namespaced",
          "names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wg"],"categories":["vktest"]},
          "versions":[{"name":"v1","served":true,"storage":true,
            "subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"}},
            "additionalPrinterColumns":[
              {"name":"Color","type":"string","jsonPath":".spec.color"},
              {"name":"Replicas","type":"integer","jsonPath":".spec.replicas"},
              {"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"},
              {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}],
            "schema":{"openAPIV3Schema":{"type":"object","properties":{
              "spec":{"type":"object","required":["color"],"properties":{
                "color":{"type":"string","enum":["red","green","blue"]},
                "replicas":{"type":"integer","minimum":0,"maximum":10,"default":1},
                "name":{"type":"string","maxLength":10,"minLength":2,"pattern":"^[a-z]+$"},
                "ratio":{"type":"number","minimum":0,"exclusiveMinimum":true},
                "tags":{"type":"array","maxItems":3,"items":{"type":"string"}},
                "expiresAt":{"type":"string","format":"date-time"},
                "extra":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
                "labels":{"type":"object","additionalProperties":{"type":"string"}},
                "note":{"type":"string","nullable":true}}},
              "status":{"type":"object","properties":{
                "replicas":{"type":"integer"},"selector":{"type":"string"},"observedGeneration":{"type":"integer"},
                "conditions":{"type":"array","items":{"type":"object","properties":{
                  "type":{"type":"string"},"status":{"type":"string"},"reason":{"type":"string"},"message":{"type":"string"},
                  "lastTransitionTime":{"type":"string"}}}}}}}}}}]}}
        """;

    public const string GadgetCrd = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
         "metadata":{"name":"gadgets.test.vk.dev"},
         "spec":{"group":"test.vk.dev","scope":"Cluster",
          "names":{"plural":"gadgets","singular":"gadget","kind":"Gadget","shortNames":["gd"]},
          "versions":[{"name":"v1","served":true,"storage":true,
            "schema":{"openAPIV3Schema":{"type":"object","properties":{
              "spec":{"type":"object","properties":{"size":{"type":"integer"}}}}}}}]}}
        """;

    public static async Task InstallAsync(Kubernetes client, CancellationToken cancellationToken)
    {
        foreach (var crd in new[] { WidgetCrd, GadgetCrd })
        {
            using var content = new StringContent(crd, Encoding.UTF8, "application/json");
            using var response = await client.HttpClient.PostAsync(
                new Uri(client.BaseUri, "apis/apiextensions.k8s.io/v1/customresourcedefinitions"), content, cancellationToken);
            if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
            {
                throw new InvalidOperationException($"installing a test CRD failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }

        // A real cluster establishes CRDs asynchronously; wait until both are served.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await client.HttpClient.GetAsync(new Uri(client.BaseUri, $"apis/{Group}/{Version}"), cancellationToken);
            var text = response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(cancellationToken) : "";
            if (text.Contains("\"widgets\"", StringComparison.Ordinal) && text.Contains("\"gadgets\"", StringComparison.Ordinal))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("test CRDs were not established within 60s");
            }

            await Task.Delay(200, cancellationToken);
        }
    }
}
