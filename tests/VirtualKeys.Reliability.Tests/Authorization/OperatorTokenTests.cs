using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using VirtualKeys.Model;
using VirtualKeys.Reliability.Tests.BadInput;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Authorization;

/// <summary>
/// The operator's token through its whole life, with the API server demanding credentials as a real
/// cluster does: the token opens nothing in the Kubernetes API (it cannot read the key, its Secret, or
/// ask for a rotation); a rotation the cluster's user asks for retires the old token after the grace;
/// deleting the key refuses its token.
/// </summary>
public sealed class OperatorTokenTests(PostgresFixture postgres)
{
    private const string KeyName = "rotating";
    // Long enough that the new token reaches the sidecar and the old one is probed within it on a loaded machine.
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_token_grants_nothing_in_the_Kubernetes_API_and_is_refused_after_rotation_grace_and_deletion()
    {
        var clusterCredential = "cluster-admin-" + Guid.NewGuid().ToString("N");
        SecretLedger.Track(clusterCredential);
        await using var cluster = await OperatorStack.StartAsync(postgres, "optoken", bearerToken: clusterCredential, tokenRotationGrace: Grace);
        var providerKey = "sk-authorization-provider-" + Guid.NewGuid().ToString("N");
        SecretLedger.Track(providerKey);
        await cluster.CreateSecretAsync(OperatorStack.Ns, "openai-key", new Dictionary<string, string> { ["api-key"] = providerKey });
        var created = await cluster.CreateKeyAsync(JsonNode.Parse($$$"""
            {"apiVersion":"aigateway.dev/v1alpha1","kind":"VirtualKey","metadata":{"name":"{{{KeyName}}}"},
             "spec":{"providers":[{"name":"openai","type":"OpenAI","secretRef":{"name":"openai-key","key":"api-key"}}],"defaultModel":"gpt-4o-mini"}}
            """)!.AsObject());
        Assert.Equal(201, created.Status);
        await OperatorStack.Until(async () => OperatorStack.ReadyOf(await cluster.GetKeyAsync(KeyName))?["status"]?.GetValue<string>() == "True", "the key is Ready", TimeSpan.FromSeconds(30));
        var first = await ReadTokenAsync(cluster);
        await using var sidecar = await SidecarStack.AttachAsync(cluster.ConnectionString, cluster.KekPath);
        await sidecar.WaitUntilServedAsync(first);

        // The token is no credential for the cluster: it cannot read or edit the key or read its Secret.
        var refusedByCluster = new List<int>();
        using (var asKeyHolder = new HttpClient { BaseAddress = cluster.Server.BaseAddress })
        {
            asKeyHolder.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", first);
            refusedByCluster.Add(await StatusAsync(asKeyHolder, HttpMethod.Get, $"apis/aigateway.dev/v1alpha1/namespaces/default/virtualkeys/{KeyName}"));
            refusedByCluster.Add(await StatusAsync(asKeyHolder, HttpMethod.Patch, $"apis/aigateway.dev/v1alpha1/namespaces/default/virtualkeys/{KeyName}", RotationPatch("by-key-holder")));
            refusedByCluster.Add(await StatusAsync(asKeyHolder, HttpMethod.Get, $"api/v1/namespaces/default/secrets/{KeyName}-token"));
            refusedByCluster.Add(await StatusAsync(asKeyHolder, HttpMethod.Get, "api/v1/namespaces/default/secrets"));
        }

        Assert.All(refusedByCluster, status => Assert.Equal(401, status));
        Assert.Equal(first, await ReadTokenAsync(cluster));

        // A rotation asked by the cluster's user: a new token at once, the old one until the grace ends.
        Assert.Equal(200, await StatusAsync(cluster.Http, HttpMethod.Patch, $"apis/aigateway.dev/v1alpha1/namespaces/default/virtualkeys/{KeyName}", RotationPatch("by-admin")));
        var rotated = Stopwatch.GetTimestamp();
        string? second = null;
        await OperatorStack.Until(async () => (second = await ReadTokenAsync(cluster)) != first, "the operator issued a new token", TimeSpan.FromSeconds(30));
        await sidecar.WaitUntilServedAsync(second!);
        var oldDuringGrace = (await sidecar.ProbeAsync(first)).Status;
        var servedFor = await RefusedAfterAsync(sidecar, first, rotated, Grace + TimeSpan.FromSeconds(15));
        Assert.Equal(400, (await sidecar.ProbeAsync(second!)).Status);

        // Deleting the key refuses its current token.
        var deleting = Stopwatch.GetTimestamp();
        using (var delete = await cluster.Http.DeleteAsync($"apis/aigateway.dev/v1alpha1/namespaces/default/virtualkeys/{KeyName}", Cancel))
        {
            Assert.True(delete.IsSuccessStatusCode);
        }

        var afterDelete = await RefusedAfterAsync(sidecar, second!, deleting, TimeSpan.FromSeconds(30));

        Assert.Equal(400, oldDuringGrace);
        Assert.True(servedFor >= Grace - TimeSpan.FromMilliseconds(500), $"The old token was refused {servedFor.TotalSeconds:0.0}s after the rotation, before the {Grace.TotalSeconds:0}s grace");
        SecretLedger.Observe("operator log (token life)", cluster.Logs.All);
        SecretLedger.Observe("events (token life)", await cluster.EventsTextAsync(KeyName));

        await new ScenarioFigures(
            "authorization-operator-token",
            "Authorization",
            "A key's token against the Kubernetes API, rotation and deletion",
            $"The token was refused by the API server {refusedByCluster.Count(s => s == 401)} times out of {refusedByCluster.Count} (read, rotate, Secrets); after a rotation the old token kept working through the {Grace.TotalSeconds:0}s grace and was refused {servedFor.TotalSeconds:0.0}s after the rotation; after deletion the token was refused within {afterDelete.TotalSeconds:0.0}s.",
            true,
            [
                new("Kubernetes API requests with the token", refusedByCluster.Count),
                new("of them refused (401)", refusedByCluster.Count(s => s == 401)),
                new("rotation grace (s)", Grace.TotalSeconds),
                new("old token refused, seconds after the rotation", Math.Round(servedFor.TotalSeconds, 1)),
                new("token refused after deletion (s)", Math.Round(afterDelete.TotalSeconds, 1)),
            ]).WriteAsync(Cancel);
    }

    private static StringContent RotationPatch(string value)
    {
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [WellKnown.RotateTokenAnnotation] = value } } };
        var content = new StringContent(patch.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/merge-patch+json");
        return content;
    }

    private static async Task<int> StatusAsync(HttpClient client, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await client.SendAsync(request, Cancel);
        SecretLedger.Observe($"API server answer to {method} {path}", await response.Content.ReadAsStringAsync(Cancel));
        return (int)response.StatusCode;
    }

    private static async Task<string> ReadTokenAsync(OperatorStack cluster)
    {
        using var response = await cluster.Http.GetAsync($"api/v1/namespaces/default/secrets/{KeyName}-token", Cancel);
        response.EnsureSuccessStatusCode();
        var secret = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancel))!;
        var token = Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]!["token"]!.GetValue<string>()));
        SecretLedger.Track(token);
        return token;
    }

    private static async Task<TimeSpan> RefusedAfterAsync(SidecarStack sidecar, string token, long since, TimeSpan bound)
    {
        while (true)
        {
            var (status, _) = await sidecar.ProbeAsync(token);
            var elapsed = Stopwatch.GetElapsedTime(since);
            if (status == 401)
            {
                return elapsed;
            }

            Assert.True(elapsed < bound, $"The token was still served {elapsed.TotalSeconds:0}s later.");
            await Task.Delay(20, Cancel);
        }
    }
}
