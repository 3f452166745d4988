using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Snapshot;

public sealed class KeySnapshotStoreTests
{
    private const string UpstreamUrl = "http://127.0.0.1:1/v1";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-26T03:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Keys_on_the_same_provider_secret_share_one_prepared_provider_and_another_secret_keeps_its_own()
    {
        var (first, _) = TestKeys.Create("first", [TestKeys.OpenAI(UpstreamUrl, "sk-shared-0001")]);
        var (second, _) = TestKeys.Create("second", [TestKeys.OpenAI(UpstreamUrl, "sk-shared-0001")]);
        var (other, _) = TestKeys.Create("other", [TestKeys.OpenAI(UpstreamUrl, "sk-other-0002")]);
        var store = NewStore();

        store.Apply(KeySnapshotChange.Reload([first, second, other]));

        var firstProvider = Serving(store, first).Providers.Single();
        var otherProvider = Serving(store, other).Providers.Single();
        Assert.Same(firstProvider, Serving(store, second).Providers.Single());
        Assert.Equal("Bearer sk-shared-0001", firstProvider.AuthHeaderValue);
        Assert.Equal("Bearer sk-other-0002", otherProvider.AuthHeaderValue);
        Assert.Equal("sk-other-0002", otherProvider.GetInfo("gpt-4o-mini").Credential);
    }

    [Fact]
    public void Keys_with_equal_providers_keep_their_own_tokens_models_and_aliases()
    {
        var (plain, plainToken) = TestKeys.Create("plain", [TestKeys.OpenAI(UpstreamUrl)]);
        var (limited, limitedToken) = TestKeys.Create(
            "limited",
            [TestKeys.OpenAI(UpstreamUrl)],
            entry => entry.With(allowedModels: ["gpt-4o"], aliases: new Dictionary<string, string> { ["fast"] = "gpt-4o" }));
        var store = NewStore();

        store.Apply(KeySnapshotChange.Reload([plain, limited]));

        var plainKey = Serving(store, plain);
        var limitedKey = Serving(store, limited);
        Assert.Equal(TokenCheck.Accepted, plainKey.Check(plainToken, _time.GetUtcNow()));
        Assert.Equal(TokenCheck.Unknown, plainKey.Check(limitedToken, _time.GetUtcNow()));
        Assert.True(plainKey.Allows("gpt-4o-mini"));
        Assert.False(limitedKey.Allows("gpt-4o-mini"));
        Assert.Equal("gpt-4o", limitedKey.ResolveAlias("fast"));
        Assert.Equal("fast", plainKey.ResolveAlias("fast"));
        Assert.True(limitedKey.MentionsModel("gpt-4o"));
        Assert.False(plainKey.MentionsModel("gpt-4o"));
    }

    [Fact]
    public void After_hundreds_of_credential_rotations_every_key_serves_its_latest_credential()
    {
        var keys = Enumerable.Range(0, 20)
            .Select(i => TestKeys.Create("key-" + i, [TestKeys.OpenAI(UpstreamUrl, "sk-start-" + i)]).Entry)
            .ToList();
        var store = NewStore();
        store.Apply(KeySnapshotChange.Reload(keys));

        // Enough distinct credentials that the store rebuilds what it shares at least once on the way.
        for (var round = 0; round < 40; round++)
        {
            for (var i = 0; i < keys.Count; i++)
            {
                keys[i] = keys[i].With(providers: [TestKeys.OpenAI(UpstreamUrl, $"sk-round-{round}-key-{i}")]);
                store.Apply(KeySnapshotChange.Upsert(keys[i]));
            }
        }

        Assert.Equal(keys.Count, store.Current.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            Assert.Equal($"Bearer sk-round-39-key-{i}", Serving(store, keys[i]).Providers.Single().AuthHeaderValue);
        }
    }

    [Fact]
    public void Changes_read_together_are_served_together_in_their_order()
    {
        var (a, _) = TestKeys.Create("a", [TestKeys.OpenAI(UpstreamUrl, "sk-a-0001")]);
        var (b, _) = TestKeys.Create("b", [TestKeys.OpenAI(UpstreamUrl, "sk-b-0001")]);
        var (c, _) = TestKeys.Create("c", [TestKeys.OpenAI(UpstreamUrl, "sk-c-0001")]);
        var (d, _) = TestKeys.Create("d", [TestKeys.OpenAI(UpstreamUrl, "sk-d-0001")]);
        var rotatedB = b.With(providers: [TestKeys.OpenAI(UpstreamUrl, "sk-b-0002")]);
        var store = NewStore();
        store.Apply(KeySnapshotChange.Reload([a, b]));
        var before = store.Current;

        store.Apply(KeySnapshotChange.Together(
        [
            KeySnapshotChange.Upsert(c),
            KeySnapshotChange.Remove(a.KeyId),
            KeySnapshotChange.Upsert(rotatedB),
            KeySnapshotChange.Upsert(d),
            KeySnapshotChange.Remove(d.KeyId),
            KeySnapshotChange.Remove(c.KeyId),
            KeySnapshotChange.Upsert(c),
        ]));

        // A request that took the snapshot before sees none of the changes, one after sees them all.
        Assert.Equal(2, before.Count);
        Assert.True(before.TryGet(a.KeyId, out _));
        Assert.False(before.TryGet(c.KeyId, out _));
        Assert.Equal("Bearer sk-b-0001", before.TryGet(b.KeyId, out var oldB) ? oldB.Providers.Single().AuthHeaderValue : null);
        Assert.Equal(2, store.Current.Count);
        Assert.False(store.Current.TryGet(a.KeyId, out _));
        Assert.False(store.Current.TryGet(d.KeyId, out _));
        Assert.Equal("Bearer sk-c-0001", Serving(store, c).Providers.Single().AuthHeaderValue);
        Assert.Equal("Bearer sk-b-0002", Serving(store, rotatedB).Providers.Single().AuthHeaderValue);
    }

    [Fact]
    public void Only_upserts_and_removals_go_together()
    {
        var (a, _) = TestKeys.Create("a", [TestKeys.OpenAI(UpstreamUrl)]);

        Assert.Throws<ArgumentException>(() => KeySnapshotChange.Together([KeySnapshotChange.Upsert(a), KeySnapshotChange.Reload([a])]));
        Assert.Throws<ArgumentException>(() => KeySnapshotChange.Together([KeySnapshotChange.Heartbeat]));
        Assert.Equal(KeySnapshotChangeKind.Upsert, KeySnapshotChange.Together([KeySnapshotChange.Upsert(a)]).Kind);
    }

    private static ServingKey Serving(KeySnapshotStore store, VirtualKeyEntry entry) =>
        store.Current.TryGet(entry.KeyId, out var key) ? key : throw new InvalidOperationException($"{entry} is not served.");

    private KeySnapshotStore NewStore() => new(_time, NullLogger<KeySnapshotStore>.Instance);
}
