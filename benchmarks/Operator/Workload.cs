using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Operator.Benchmarks;

/// <summary>
/// What a platform team would apply: namespaces (one per team), provider Secrets shared by the
/// keys of their namespace, and VirtualKeys with a realistic mix of shapes (one or two providers,
/// rate limits, some budgets, some model lists). Random provider-key values, never printed.
/// </summary>
internal sealed class Workload(IKubernetes client, BenchmarkOptions options)
{
    private const int Parallelism = 8;
    private const string ProviderKey = "api-key";
    private readonly ConcurrentDictionary<string, string> _uids = new(StringComparer.Ordinal);
    private int _created;

    /// <summary>Requests the workload itself sent that change objects (to take out of the server's count).</summary>
    public int Writes => Volatile.Read(ref _created);

    /// <summary>Namespace/name of every key created, with its uid.</summary>
    public IReadOnlyDictionary<string, string> Uids => _uids;

    public static string NamespaceName(int team) => "team-" + team.ToString("D2", CultureInfo.InvariantCulture);

    public async Task CreateNamespacesAndSecretsAsync(CancellationToken cancellationToken)
    {
        for (var team = 0; team < options.Namespaces; team++)
        {
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = NamespaceName(team) } }, cancellationToken: cancellationToken);
            Interlocked.Increment(ref _created);
        }

        await ForEachAsync(options.Secrets, async (i, ct) =>
        {
            var secret = new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = SecretName(i / options.Namespaces), NamespaceProperty = NamespaceName(i % options.Namespaces) },
                Data = new Dictionary<string, byte[]> { [ProviderKey] = Encoding.UTF8.GetBytes("sk-bench-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24))) },
            };
            await client.CoreV1.CreateNamespacedSecretAsync(secret, secret.Metadata.NamespaceProperty, cancellationToken: ct);
            Interlocked.Increment(ref _created);
        }, cancellationToken);
    }

    public Task CreateKeysAsync(CancellationToken cancellationToken) =>
        ForEachAsync(options.Keys, async (i, ct) =>
        {
            var key = Key(i);
            var created = await client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(
                key, WellKnown.Group, WellKnown.Version, key.Metadata.NamespaceProperty, WellKnown.Plural, cancellationToken: ct);
            Interlocked.Increment(ref _created);
            _uids[key.Metadata.NamespaceProperty + "/" + key.Metadata.Name] = created.Metadata.Uid;
        }, cancellationToken);

    /// <summary>Records <paramref name="requests"/> served requests for each key in <paramref name="names"/>, as the sidecar would.</summary>
    public async Task RecordUsageAsync(VirtualKeyRegistry registry, IReadOnlyCollection<string> names, int requests, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var events = names
            .SelectMany(n => Enumerable.Range(0, requests).Select(r => new UsageEvent(
                Guid.NewGuid().ToString("N"),
                VirtualKeyId.FromUid(_uids[n]),
                now.AddMilliseconds(-r),
                "gpt-4o-mini",
                "openai",
                InputTokens: 120,
                OutputTokens: 40,
                CostUsd: 0.000042m)))
            .ToList();
        await registry.RecordUsageAsync(events, cancellationToken);
    }

    private VirtualKey Key(int i)
    {
        var team = i % options.Namespaces;
        var secretsHere = (options.Secrets / options.Namespaces) + (team < options.Secrets % options.Namespaces ? 1 : 0);
        var primary = new ProviderSpec
        {
            Name = "openai",
            Type = ProviderType.OpenAI,
            SecretRef = new SecretKeyRef { Name = SecretName((i / options.Namespaces) % secretsHere), Key = ProviderKey },
        };
        var spec = new VirtualKeySpec
        {
            Providers = [primary],
            DefaultModel = "gpt-4o-mini",
            Limits = new RateLimits { RequestsPerMinute = 60 + (i % 10 * 30), TokensPerMinute = 20_000 },
        };
        if (i % 5 == 0)
        {
            // A failover tier on another shared Secret.
            spec.Providers.Add(new ProviderSpec
            {
                Name = "anthropic",
                Type = ProviderType.Anthropic,
                Priority = 1,
                SecretRef = new SecretKeyRef { Name = SecretName(((i / options.Namespaces) + 1) % secretsHere), Key = ProviderKey },
            });
            spec.AllowedModels = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest"];
        }

        if (i % 3 == 0)
        {
            spec.Budget = new BudgetSpec { MaxCostUsd = "25.00", Period = VirtualKeys.Model.BudgetPeriod.Monthly, AlertAtPercent = 80 };
        }

        return new VirtualKey
        {
            ApiVersion = WellKnown.ApiVersion,
            Kind = WellKnown.Kind,
            Metadata = new V1ObjectMeta { Name = "key-" + i.ToString("D5", CultureInfo.InvariantCulture), NamespaceProperty = NamespaceName(team) },
            Spec = spec,
        };
    }

    private static string SecretName(int index) => "provider-" + index.ToString("D3", CultureInfo.InvariantCulture);

    private static Task ForEachAsync(int count, Func<int, CancellationToken, Task> body, CancellationToken cancellationToken) =>
        Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (i, ct) => await body(i, ct));
}
