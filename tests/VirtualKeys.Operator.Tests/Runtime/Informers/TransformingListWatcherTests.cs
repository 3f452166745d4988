using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Tests.Runtime.Support;

namespace VirtualKeys.Operator.Tests.Runtime.Informers;

public sealed class TransformingListWatcherTests
{
    [Fact]
    public async Task Listed_and_watched_objects_reach_the_informer_transformed()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = new ScriptedListWatcher<V1Secret> { OnList = _ => new ResourceList<V1Secret>([Objects.Secret("a", "one", "3")], "10") };
        var transformed = 0;
        var transforming = new TransformingListWatcher<V1Secret>(source, s =>
        {
            transformed++;
            s.Metadata.Labels = new Dictionary<string, string> { ["seen"] = "yes" };
            return s;
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var informer = new ResourceInformer<V1Secret>(transforming, new InformerOptions { ResyncPeriod = TimeSpan.Zero });
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForCacheSyncAsync(ct).WaitAsync(Wait.Bound, ct);

        var watch = await source.NextWatchAsync();
        watch.Send(WatchEventType.Bookmark, Objects.Secret("", "", "12"));
        watch.Send(WatchEventType.Added, Objects.Secret("a", "two", "13"));
        await Wait.UntilAsync(() => informer.Get("a", "two") is not null, () => "the watched Secret is cached");

        Assert.Equal("yes", informer.Get("a", "one")!.Metadata.Labels["seen"]);
        Assert.Equal("yes", informer.Get("a", "two")!.Metadata.Labels["seen"]);
        Assert.Equal("scripted", transforming.Kind);
        Assert.Equal(2, transformed); // the bookmark is not an object to transform
        await stop.CancelAsync();
        await run;
    }
}
