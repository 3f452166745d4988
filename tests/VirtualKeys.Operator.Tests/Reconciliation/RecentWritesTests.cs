using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Operator.Reconciliation;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class RecentWritesTests
{
    private static V1Secret Secret(string resourceVersion) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = "default", Name = "a-token", ResourceVersion = resourceVersion },
    };

    [Fact]
    public void A_created_object_the_cache_has_not_seen_is_trusted_only_for_a_while()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero));
        var writes = new RecentWrites<V1Secret>(time);
        var created = Secret("7");
        writes.Wrote(null, created);

        Assert.Same(created, writes.Freshest("default", "a-token", null));

        // Still absent from the cache long after: deleted while the watch was down, not on its way.
        time.Advance(RecentWrites<V1Secret>.TrustFor);
        Assert.Null(writes.Freshest("default", "a-token", null));
        Assert.Null(writes.Freshest("default", "a-token", null));
    }

    [Fact]
    public void A_replaced_object_is_used_until_the_cache_moves_past_the_version_it_replaced()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero));
        var writes = new RecentWrites<V1Secret>(time);
        var old = Secret("7");
        var written = Secret("8");
        writes.Wrote("7", written);

        Assert.Same(written, writes.Freshest("default", "a-token", old));
        var caughtUp = Secret("8");
        Assert.Same(caughtUp, writes.Freshest("default", "a-token", caughtUp));

        // Once the cache caught up, the write is forgotten: a later stale read is the cache's own.
        Assert.Same(old, writes.Freshest("default", "a-token", old));
    }

    [Fact]
    public void A_forgotten_write_is_not_used()
    {
        var writes = new RecentWrites<V1Secret>(TimeProvider.System);
        writes.Wrote(null, Secret("3"));

        writes.Forget("default", "a-token");

        Assert.Null(writes.Freshest("default", "a-token", null));
    }
}
