using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Tests.Runtime.Support;

namespace VirtualKeys.Operator.Tests.Runtime.Informers;

public sealed class DelegatingListWatcherTests
{
    [Fact]
    public async Task An_error_reported_through_onError_ends_the_stream_and_is_thrown()
    {
        var gone = new KubernetesException(new V1Status { Code = 410, Reason = "Expired" });
        var watcher = new DelegatingListWatcher<V1Secret>(
            "secrets",
            (_, _) => Task.FromResult(new ResourceList<V1Secret>([], "1")),
            request => EventsThenError(request, gone));
        var seen = new List<string>();

        var thrown = await Assert.ThrowsAsync<KubernetesException>(async () =>
        {
            await foreach (var (_, secret) in watcher.WatchAsync("a", "1", TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken))
            {
                seen.Add(secret.Metadata.Name);
            }
        });

        Assert.Same(gone, thrown);
        Assert.Equal(["before"], seen);
    }

    [Fact]
    public async Task The_watch_request_carries_namespace_version_and_timeout()
    {
        WatchRequest? captured = null;
        var watcher = new DelegatingListWatcher<V1Secret>(
            "secrets",
            (_, _) => Task.FromResult(new ResourceList<V1Secret>([], "1")),
            request =>
            {
                captured = request;
                return Empty();
            });

        await foreach (var _ in watcher.WatchAsync("team-a", "42", TimeSpan.FromSeconds(90.5), TestContext.Current.CancellationToken))
        {
        }

        Assert.Equal(("team-a", "42", 91), (captured!.Namespace, captured.ResourceVersion, captured.TimeoutSeconds));
    }

    [Fact]
    public void A_custom_resource_without_a_group_is_refused_with_a_pointer_to_typed_watchers()
    {
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" });

        var error = Assert.Throws<ArgumentException>(() => ListWatchers.CustomResource<V1Secret>(client));

        Assert.Contains("ListWatchers.Secrets", error.Message, StringComparison.Ordinal);
    }

    private static async IAsyncEnumerable<(WatchEventType, V1Secret)> EventsThenError(
        WatchRequest request,
        Exception error,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return (WatchEventType.Added, Objects.Secret("a", "before", "2"));
        await Task.Yield();

        // As KubernetesClient does for an ERROR event: report it, then read on.
        request.OnError(error);
        yield return (WatchEventType.Added, Objects.Secret("a", "after", "3"));
        await Task.Delay(Timeout.Infinite, request.CancellationToken);
    }

    private static async IAsyncEnumerable<(WatchEventType, V1Secret)> Empty()
    {
        await Task.Yield();
        yield break;
    }
}
