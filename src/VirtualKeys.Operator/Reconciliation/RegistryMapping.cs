using System.Security.Cryptography;
using System.Text;
using k8s;
using VirtualKeys.Model;
using VirtualKeys.Registry.Keys;
using BudgetPeriodKind = VirtualKeys.Registry.Usage.BudgetPeriodKind;
using ModelProviderType = VirtualKeys.Model.ProviderType;
using RegistryProviderType = VirtualKeys.Registry.Keys.ProviderType;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>Turns a validated VirtualKey into what the registry stores.</summary>
public static class RegistryMapping
{
    public static VirtualKeyIdentity Identity(VirtualKey key) =>
        new(key.Metadata.NamespaceProperty, key.Metadata.Name, key.Metadata.Uid);

    public static VirtualKeyConfig Config(VirtualKey key)
    {
        var spec = key.Spec;
        return new VirtualKeyConfig
        {
            DefaultModel = spec.DefaultModel,
            AllowedModels = [.. spec.AllowedModels ?? []],
            ModelAliases = spec.ModelAliases is null
                ? new Dictionary<string, string>()
                : new Dictionary<string, string>(spec.ModelAliases, StringComparer.Ordinal),
            Limits = new KeyLimits(spec.Limits?.RequestsPerMinute, spec.Limits?.TokensPerMinute, spec.Limits?.MaxParallelRequests),
            Budget = spec.Budget is { } budget && UsdAmount.TryParse(budget.MaxCostUsd, out var max)
                ? new KeyBudget(max, PeriodKind(budget.Period), budget.AlertAtPercent)
                : null,
            ExpiresAt = spec.ExpiresAt?.ToUniversalTime(),
            Suspended = spec.Suspended,
            Providers = [.. spec.Providers.Select(p => new ProviderConfig(
                p.Name,
                ProviderType(p.Type),
                p.BaseUrl,
                p.Models is null ? null : [.. p.Models],
                p.Priority,
                p.Weight))],
        };
    }

    /// <summary>A digest of the spec as the user wrote it: the registry's spec fingerprint.</summary>
    public static string SpecFingerprint(VirtualKey key) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(KubernetesJson.Serialize(key.Spec))));

    public static BudgetPeriodKind PeriodKind(BudgetPeriod period) => period switch
    {
        BudgetPeriod.Daily => BudgetPeriodKind.Daily,
        BudgetPeriod.Weekly => BudgetPeriodKind.Weekly,
        BudgetPeriod.Monthly => BudgetPeriodKind.Monthly,
        _ => BudgetPeriodKind.Total,
    };

    private static RegistryProviderType ProviderType(ModelProviderType type) => type switch
    {
        ModelProviderType.OpenAI => RegistryProviderType.OpenAI,
        ModelProviderType.AzureOpenAI => RegistryProviderType.AzureOpenAI,
        ModelProviderType.Anthropic => RegistryProviderType.Anthropic,
        ModelProviderType.Gemini => RegistryProviderType.Gemini,
        ModelProviderType.OpenAICompatible => RegistryProviderType.OpenAICompatible,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown provider type."),
    };
}
