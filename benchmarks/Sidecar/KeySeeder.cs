using System.Globalization;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// Writes the run's keys straight into the registry, as the operator would: active keys with one
/// OpenAI-shaped provider (the mock upstream) and its credential, each with one issued token.
/// </summary>
internal static class KeySeeder
{
    public const string Namespace = "bench";

    /// <summary>Key 0 carries the RPM limit under test; every other key has no limits.</summary>
    public static async Task<SeededKeys> SeedAsync(
        VirtualKeyRegistry registry,
        int count,
        int limitedRequestsPerMinute,
        string upstreamBaseUrl,
        string upstreamCredential,
        CancellationToken cancellationToken)
    {
        var tokens = new string[count];
        var keyIds = new string[count];
        var written = 0;
        var next = -1;
        var workers = Enumerable.Range(0, 16).Select(_ => Task.Run(
            async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    var identity = new VirtualKeyIdentity(Namespace, "key-" + i.ToString("D5", CultureInfo.InvariantCulture), Guid.NewGuid().ToString());
                    var keyId = VirtualKeyId.FromUid(identity.Uid);
                    var token = VirtualKeyToken.Generate(keyId);
                    var limits = i == 0 ? new KeyLimits(RequestsPerMinute: limitedRequestsPerMinute) : new KeyLimits();
                    var upsert = new VirtualKeyUpsert(
                        identity,
                        Generation: 1,
                        SpecFingerprint: "bench-1",
                        new VirtualKeyConfig
                        {
                            DefaultModel = "gpt-4o-mini",
                            Limits = limits,
                            Providers = [new ProviderConfig("openai", ProviderType.OpenAI, upstreamBaseUrl)],
                        },
                        [new ProviderCredential("openai", upstreamCredential)],
                        new TokenChanges([token]));
                    await registry.UpsertAsync(upsert, cancellationToken);
                    tokens[i] = token.Reveal();
                    keyIds[i] = keyId;
                    if (Interlocked.Increment(ref written) % 2500 == 0)
                    {
                        Progress.Line($"  {written} keys written");
                    }
                }
            },
            cancellationToken));
        await Task.WhenAll(workers);
        return new SeededKeys(tokens[0], keyIds[0], tokens[1..]);
    }
}
