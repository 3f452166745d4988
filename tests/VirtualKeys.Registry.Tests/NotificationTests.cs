using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Notifications;

namespace VirtualKeys.Registry.Tests;

public sealed class NotificationTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private TestRegistry _registry = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _registry = await fixture.OpenAsync();

    public ValueTask DisposeAsync() => _registry.DisposeAsync();

    [Fact]
    public async Task Listener_hears_upsert_and_tombstone_with_key_id_and_name()
    {
        await using var listener = await RegistryChangeListener.StartAsync(_registry.Database, Ct);
        await using var changes = Changes(listener);
        var upsert = TestRegistry.NewKey();

        var result = await _registry.Registry.UpsertAsync(upsert, Ct);
        var afterUpsert = await NextAsync(changes);
        await _registry.Registry.TombstoneAsync(upsert.Identity, Ct);
        var afterTombstone = await NextAsync(changes);

        Assert.Equal(new RegistryChange(result.KeyId, upsert.Identity.Namespace, upsert.Identity.Name, VirtualKeyState.Active, result.ChangeVersion), afterUpsert);
        Assert.Equal(result.KeyId, afterTombstone.KeyId);
        Assert.Equal(VirtualKeyState.Tombstoned, afterTombstone.State);
        Assert.True(afterTombstone.ChangeVersion > afterUpsert.ChangeVersion);
    }

    [Fact]
    public async Task Upsert_that_changes_nothing_sends_no_notification()
    {
        var quiet = TestRegistry.NewKey();
        await _registry.Registry.UpsertAsync(quiet, Ct);
        await using var listener = await RegistryChangeListener.StartAsync(_registry.Database, Ct);
        await using var changes = Changes(listener);

        await _registry.Registry.UpsertAsync(quiet, Ct);
        var marker = TestRegistry.NewKey();
        await _registry.Registry.UpsertAsync(marker, Ct);

        // Notifications arrive in commit order: had the idle upsert sent one, it would come first.
        Assert.Equal(marker.Identity.Namespace, (await NextAsync(changes)).Namespace);
    }

    [Fact]
    public void Payload_round_trips_and_garbage_is_not_a_change()
    {
        var change = new RegistryChange("abcdefghijklmnop", "team-a", "chat", VirtualKeyState.Suspended, 42);

        Assert.True(RegistryChange.TryParse(change.ToPayload(), out var parsed));
        Assert.Equal(change, parsed);
        Assert.Equal("""{"keyId":"abcdefghijklmnop","namespace":"team-a","name":"chat","state":"Suspended","changeVersion":42}""", change.ToPayload());
        Assert.False(RegistryChange.TryParse("not json", out _));
        Assert.False(RegistryChange.TryParse("{}", out _));
    }

    private static IAsyncEnumerator<RegistryChange> Changes(RegistryChangeListener listener) =>
        listener.ReadAllAsync(Ct).GetAsyncEnumerator(Ct);

    private static async Task<RegistryChange> NextAsync(IAsyncEnumerator<RegistryChange> changes)
    {
        Assert.True(await changes.MoveNextAsync().AsTask().WaitAsync(Patience, Ct));
        return changes.Current;
    }
}
