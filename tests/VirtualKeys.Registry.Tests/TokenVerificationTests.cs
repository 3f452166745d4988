using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Registry.Tests;

public sealed class TokenVerificationTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    private TestRegistry _registry = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _registry = await fixture.OpenAsync();

    public ValueTask DisposeAsync() => _registry.DisposeAsync();

    [Fact]
    public async Task Issued_token_is_accepted_and_a_wrong_secret_for_the_same_key_is_not()
    {
        var (upsert, token) = NewKeyWithToken();
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([token]) }, Ct);
        var guess = VirtualKeyToken.Generate(token.KeyId);

        var accepted = await _registry.Registry.VerifyTokenAsync(token.Reveal(), Ct);
        var refused = await _registry.Registry.VerifyTokenAsync(guess.Reveal(), Ct);

        Assert.Equal(TokenVerificationStatus.Accepted, accepted.Status);
        Assert.Equal(upsert.Identity, accepted.Identity);
        Assert.Equal(VirtualKeyState.Active, accepted.State);
        Assert.Equal(TokenVerificationStatus.WrongSecret, refused.Status);
    }

    [Fact]
    public async Task Rotated_out_token_works_during_the_grace_period_and_is_refused_after_it()
    {
        var (upsert, oldToken) = NewKeyWithToken();
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([oldToken]) }, Ct);
        var newToken = VirtualKeyToken.Generate(oldToken.KeyId);
        var graceEnd = _registry.Time.GetUtcNow().AddMinutes(30);

        var rotation = await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([newToken], graceEnd) }, Ct);
        var repeated = await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([newToken], graceEnd.AddMinutes(5)) }, Ct);
        _registry.Time.Advance(TimeSpan.FromMinutes(29));
        var oldWithinGrace = await _registry.Registry.VerifyTokenAsync(oldToken.Reveal(), Ct);
        _registry.Time.Advance(TimeSpan.FromMinutes(2));
        var oldAfterGrace = await _registry.Registry.VerifyTokenAsync(oldToken.Reveal(), Ct);
        var newAfterGrace = await _registry.Registry.VerifyTokenAsync(newToken.Reveal(), Ct);

        Assert.True(rotation.Changed);
        Assert.False(repeated.Changed);
        Assert.Equal(TokenVerificationStatus.Accepted, oldWithinGrace.Status);
        Assert.Equal(TokenVerificationStatus.Retired, oldAfterGrace.Status);
        Assert.Equal(TokenVerificationStatus.Accepted, newAfterGrace.Status);
    }

    [Fact]
    public async Task An_older_token_presented_again_never_retires_a_newer_one()
    {
        // What a stale copy of a token Secret (a lagging cache, a restored backup, a Secret switched
        // back to) would ask: register the old token again, retiring the others from its old issue time.
        var (upsert, oldToken) = NewKeyWithToken();
        var issuedOld = _registry.Time.GetUtcNow();
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([oldToken]) }, Ct);
        _registry.Time.Advance(TimeSpan.FromMinutes(10));
        var newToken = VirtualKeyToken.Generate(oldToken.KeyId);
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([newToken], _registry.Time.GetUtcNow().AddMinutes(1)) }, Ct);

        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([oldToken], issuedOld.AddMinutes(1)) }, Ct);
        _registry.Time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(TokenVerificationStatus.Accepted, (await _registry.Registry.VerifyTokenAsync(newToken.Reveal(), Ct)).Status);
        Assert.Equal(TokenVerificationStatus.Retired, (await _registry.Registry.VerifyTokenAsync(oldToken.Reveal(), Ct)).Status);
    }

    [Fact]
    public async Task Token_with_a_grace_end_already_past_is_refused_at_once()
    {
        var (upsert, oldToken) = NewKeyWithToken();
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([oldToken]) }, Ct);

        await _registry.Registry.UpsertAsync(
            upsert with { Tokens = new TokenChanges([VirtualKeyToken.Generate(oldToken.KeyId)], _registry.Time.GetUtcNow().AddSeconds(-1)) },
            Ct);

        Assert.Equal(TokenVerificationStatus.Retired, (await _registry.Registry.VerifyTokenAsync(oldToken.Reveal(), Ct)).Status);
    }

    [Fact]
    public async Task Snapshot_carries_token_hashes_that_verify_in_memory()
    {
        var (upsert, token) = NewKeyWithToken();
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([token]) }, Ct);

        var snapshot = await _registry.Registry.ListLiveKeysAsync(includeCredentials: false, Ct);
        var key = Assert.Single(snapshot.Keys, k => k.KeyId == token.KeyId);

        Assert.Equal(TokenCheck.Accepted, TokenVerifier.Verify(token, key.Tokens, _registry.Time.GetUtcNow()));
    }

    [Fact]
    public async Task Lists_for_sidecars_leave_out_tokens_retired_longer_than_a_week_and_the_registry_keeps_them()
    {
        var (upsert, first) = NewKeyWithToken();
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([first]) }, Ct);
        var second = VirtualKeyToken.Generate(first.KeyId);
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([second], _registry.Time.GetUtcNow().AddMinutes(5)) }, Ct);
        _registry.Time.Advance(VirtualKeyRegistry.RetiredTokensListedFor + TimeSpan.FromMinutes(10));
        var third = VirtualKeyToken.Generate(first.KeyId);
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([third], _registry.Time.GetUtcNow().AddMinutes(5)) }, Ct);
        _registry.Time.Advance(TimeSpan.FromMinutes(10));

        var listed = Assert.Single((await _registry.Registry.ListLiveKeysAsync(includeCredentials: false, Ct)).Keys, k => k.KeyId == first.KeyId);
        var changed = Assert.Single((await _registry.Registry.ListChangedSinceAsync(0, includeCredentials: false, Ct)).Keys, k => k.KeyId == first.KeyId);
        var read = await _registry.Registry.GetByKeyIdAsync(first.KeyId, includeCredentials: false, Ct);
        var now = _registry.Time.GetUtcNow();

        Assert.Equal(2, listed.Tokens.Count);
        Assert.Equal(2, changed.Tokens.Count);
        Assert.Equal(TokenCheck.Unknown, TokenVerifier.Verify(first, listed.Tokens, now));
        Assert.Equal(TokenCheck.Retired, TokenVerifier.Verify(second, listed.Tokens, now));
        Assert.Equal(TokenCheck.Accepted, TokenVerifier.Verify(third, listed.Tokens, now));
        Assert.Equal(3, read!.Tokens.Count);
        Assert.Equal(TokenVerificationStatus.Retired, (await _registry.Registry.VerifyTokenAsync(first.Reveal(), Ct)).Status);

        // The oldest token presented again (a restored Secret) is still the retired one, not a new token.
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([first], now.AddMinutes(-1)) }, Ct);
        Assert.Equal(TokenVerificationStatus.Accepted, (await _registry.Registry.VerifyTokenAsync(third.Reveal(), Ct)).Status);
        Assert.Equal(TokenVerificationStatus.Retired, (await _registry.Registry.VerifyTokenAsync(first.Reveal(), Ct)).Status);
    }

    [Fact]
    public async Task Malformed_and_unknown_tokens_are_told_apart()
    {
        var malformed = await _registry.Registry.VerifyTokenAsync("sk-not-a-virtual-key", Ct);
        var unknown = await _registry.Registry.VerifyTokenAsync(VirtualKeyToken.Generate(VirtualKeyId.FromUid(Guid.NewGuid().ToString())).Reveal(), Ct);

        Assert.Equal(TokenVerificationStatus.Malformed, malformed.Status);
        Assert.Equal(TokenFormatError.WrongPrefix, malformed.FormatError);
        Assert.Equal(TokenVerificationStatus.UnknownKey, unknown.Status);
    }

    private static (VirtualKeyUpsert Upsert, VirtualKeyToken Token) NewKeyWithToken()
    {
        var upsert = TestRegistry.NewKey();
        return (upsert, VirtualKeyToken.Generate(VirtualKeyId.FromUid(upsert.Identity.Uid)));
    }
}
