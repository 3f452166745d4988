using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

/// <summary>
/// Kubernetes API behaviour, written once and run against every backend: the local server
/// always, a real K3s where Docker runs. An assertion here is something a real cluster does.
/// </summary>
public abstract partial class ConformanceSuite<TBackend> : IClassFixture<TBackend>
    where TBackend : ClusterBackend
{
    protected ConformanceSuite(TBackend backend)
    {
        Backend = backend;
    }

    protected TBackend Backend { get; }

    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    protected Task<ClusterSession> SessionAsync() => ClusterSession.StartAsync(Backend);

    protected static async Task<V1Status> AssertFailsAsync(HttpStatusCode code, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.Equal(code, error.Response.StatusCode);
        var status = JsonSerializer.Deserialize<V1Status>(error.Response.Content, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal("Status", status.Kind);
        Assert.Equal("Failure", status.Status);
        Assert.Equal((int)code, status.Code);
        return status;
    }

    protected static long Rv(V1ObjectMeta metadata) => long.Parse(metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture);
}
