using System.Text;
using k8s;
using k8s.Models;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Tests.Support;

/// <summary>Writes what the operator would: VirtualKeys, their status and token Secrets.</summary>
internal static class TestKeys
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static VirtualKey New(string ns, string name, string defaultModel = "gpt-4o-mini", string? budget = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new VirtualKeySpec
        {
            Providers = [new ProviderSpec { Name = "openai", Type = ProviderType.OpenAI, SecretRef = new SecretKeyRef { Name = "openai-key", Key = "apiKey" } }],
            DefaultModel = defaultModel,
            Limits = new RateLimits { RequestsPerMinute = 5 },
            Budget = budget is null ? null : new BudgetSpec { MaxCostUsd = budget, Period = BudgetPeriod.Daily },
        },
    };

    public static Task<VirtualKey> CreateAsync(IKubernetes client, VirtualKey key) =>
        client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(
            key, WellKnown.Group, WellKnown.Version, key.Metadata.NamespaceProperty, WellKnown.Plural, cancellationToken: Token);

    public static Task<VirtualKey> GetAsync(IKubernetes client, string ns, string name) =>
        client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, name, Token);

    /// <summary>Writes <paramref name="status"/> through the status subresource, as the operator does.</summary>
    public static async Task SetStatusAsync(IKubernetes client, string ns, string name, VirtualKeyStatus status)
    {
        var current = await GetAsync(client, ns, name);
        current.Status = status;
        await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<VirtualKey>(
            current, WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, name, cancellationToken: Token);
    }

    public static V1Condition Ready(string status, string reason, string message = "") => new()
    {
        Type = ConditionTypes.Ready,
        Status = status,
        Reason = reason,
        Message = message,
        LastTransitionTime = DateTime.UtcNow,
    };

    public static Task<V1Secret> CreateSecretAsync(IKubernetes client, string ns, string name, string key, string value) =>
        client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret { Metadata = new V1ObjectMeta { Name = name }, Data = new Dictionary<string, byte[]> { [key] = Encoding.UTF8.GetBytes(value) } },
            ns,
            cancellationToken: Token);
}
