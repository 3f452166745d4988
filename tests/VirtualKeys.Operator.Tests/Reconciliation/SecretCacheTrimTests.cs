using System.Text;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Model;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

/// <summary>
/// The operator caches every Secret of the namespaces it watches; what it cannot need (Helm's
/// release records, TLS keys, service-account tokens, managed fields) must not stay in its memory.
/// </summary>
public sealed class SecretCacheTrimTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Managed_fields_go_from_every_Secret_and_data_only_from_the_types_that_never_hold_a_provider_key()
    {
        var release = SecretOf("helm.sh/release.v1");
        var tls = SecretOf("kubernetes.io/tls");
        var opaque = SecretOf("Opaque");
        var untyped = SecretOf(null);

        Assert.Null(SecretCacheTrim.Trim(release).Data);
        Assert.Null(SecretCacheTrim.Trim(tls).Data);
        Assert.Equal("value", Encoding.UTF8.GetString(SecretCacheTrim.Trim(opaque).Data!["k"]));
        Assert.Equal("value", Encoding.UTF8.GetString(SecretCacheTrim.Trim(untyped).Data!["k"]));
        Assert.All([release, tls, opaque, untyped], s => Assert.Null(s.Metadata.ManagedFields));
        Assert.All([release, tls, opaque, untyped], s => Assert.Equal("7", s.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task The_cache_holds_no_Helm_release_data_and_a_key_naming_such_a_Secret_is_told_why_it_is_not_read()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "secret-trim");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.Client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = "sh.helm.release.v1.router.v1" },
                Type = "helm.sh/release.v1",
                Data = new Dictionary<string, byte[]> { ["release"] = new byte[256 * 1024] },
            },
            OperatorEnvironment.Ns,
            cancellationToken: Ct);
        await env.CreateKeyAsync("misplaced", spec => spec.Providers[0].SecretRef = new SecretKeyRef { Name = "sh.helm.release.v1.router.v1", Key = "release" });
        await env.CreateKeyAsync("fine");

        var key = await env.WaitForReadyReasonAsync("misplaced", ConditionReasons.SecretKeyNotFound);
        Assert.Contains("Secret default/sh.helm.release.v1.router.v1", OperatorEnvironment.ReadyOf(key)!.Message, StringComparison.Ordinal);
        Assert.Contains("type helm.sh/release.v1", OperatorEnvironment.ReadyOf(key)!.Message, StringComparison.Ordinal);
        Assert.Contains("Opaque Secret", OperatorEnvironment.ReadyOf(key)!.Message, StringComparison.Ordinal);
        await env.WaitForReadyReasonAsync("fine", ConditionReasons.Reconciled);

        var cache = op.App.Services.GetRequiredService<IResourceCache<V1Secret>>();
        var cachedRelease = cache.Get(OperatorEnvironment.Ns, "sh.helm.release.v1.router.v1");
        Assert.NotNull(cachedRelease);
        Assert.Null(cachedRelease.Data);
        Assert.NotNull(cache.Get(OperatorEnvironment.Ns, OperatorEnvironment.ProviderSecret)!.Data);
        Assert.NotNull(cache.Get(OperatorEnvironment.Ns, "fine-token")!.Data);
    }

    private static V1Secret SecretOf(string? type) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "s",
            NamespaceProperty = "default",
            ResourceVersion = "7",
            ManagedFields = [new V1ManagedFieldsEntry { Manager = "kubectl", Operation = "Apply" }],
        },
        Type = type,
        Data = new Dictionary<string, byte[]> { ["k"] = Encoding.UTF8.GetBytes("value") },
    };
}
