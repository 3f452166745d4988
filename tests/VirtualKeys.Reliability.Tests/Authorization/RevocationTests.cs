using System.Diagnostics;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Reliability.Tests.BadInput;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Authorization;

/// <summary>
/// A key taken away is refused at once: a tombstone and an expiry written to the registry reach the
/// sidecar by NOTIFY within a second, and a key whose expiry time passes is refused on the next request.
/// </summary>
public sealed class RevocationTests(PostgresFixture postgres)
{
    /// <summary>The "at once": within a second of the registry write.</summary>
    private static readonly TimeSpan AtOnce = TimeSpan.FromSeconds(1);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Tombstoned_and_expired_keys_are_refused_within_a_second()
    {
        await using var stack = await SidecarStack.StartAsync(postgres, "revocation");

        var tombstoned = await stack.AddKeyAsync("tombstoned");
        var started = Stopwatch.GetTimestamp();
        Assert.True(await stack.Registry.TombstoneAsync(tombstoned.Identity, Cancel));
        var (afterTombstone, tombstoneCode) = await RefusedAsync(stack, tombstoned.Token, started);

        var expiredByEdit = await stack.AddKeyAsync("expired-by-edit");
        started = Stopwatch.GetTimestamp();
        await stack.WriteAsync(expiredByEdit, 2, config: expiredByEdit.Config with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) });
        var (afterExpiryEdit, expiryEditCode) = await RefusedAsync(stack, expiredByEdit.Token, started);

        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(2);
        var expiring = await stack.AddKeyAsync("expiring", c => c with { ExpiresAt = expiresAt });
        Assert.Equal(400, (await stack.ProbeAsync(expiring.Token)).Status);
        var untilExpiry = expiresAt - DateTimeOffset.UtcNow;
        if (untilExpiry > TimeSpan.Zero)
        {
            await Task.Delay(untilExpiry, Cancel);
        }

        started = Stopwatch.GetTimestamp();
        var (afterExpiry, expiryCode) = await RefusedAsync(stack, expiring.Token, started);

        Assert.Equal("invalid_api_key", tombstoneCode);
        Assert.Equal("key_expired", expiryEditCode);
        Assert.Equal("key_expired", expiryCode);
        Assert.True(afterTombstone <= AtOnce, $"A tombstoned key was served for {afterTombstone.TotalMilliseconds:0} ms");
        Assert.True(afterExpiryEdit <= AtOnce, $"A key edited to be expired was served for {afterExpiryEdit.TotalMilliseconds:0} ms");
        Assert.True(afterExpiry <= AtOnce, $"A key past its expiry was served for {afterExpiry.TotalMilliseconds:0} ms");

        await new ScenarioFigures(
            "authorization-revocation",
            "Authorization",
            "Tombstoned and expired keys",
            $"A tombstoned key was refused {afterTombstone.TotalMilliseconds:0} ms after the registry write, a key edited to be expired after {afterExpiryEdit.TotalMilliseconds:0} ms, and a key whose expiry passed on the first request after it ({afterExpiry.TotalMilliseconds:0} ms).",
            true,
            [
                new("tombstone to refusal (ms)", Math.Round(afterTombstone.TotalMilliseconds)),
                new("expiry edit to refusal (ms)", Math.Round(afterExpiryEdit.TotalMilliseconds)),
                new("expiry time to refusal (ms)", Math.Round(afterExpiry.TotalMilliseconds)),
                new("refusal codes", $"{tombstoneCode}, {expiryEditCode}, {expiryCode}"),
            ]).WriteAsync(Cancel);
    }

    /// <summary>Probes until the token is refused; how long after <paramref name="started"/> that was, and the code.</summary>
    private static async Task<(TimeSpan After, string? Code)> RefusedAsync(SidecarStack stack, string token, long started)
    {
        var bound = TimeSpan.FromSeconds(20);
        while (true)
        {
            var (status, code) = await stack.ProbeAsync(token);
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (status == 401)
            {
                return (elapsed, code);
            }

            Assert.True(elapsed < bound, $"The token was still served {bound.TotalSeconds:0}s later (status {status}).");
            await Task.Delay(5, Cancel);
        }
    }
}
