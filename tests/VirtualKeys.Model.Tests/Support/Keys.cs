using k8s.Models;

namespace VirtualKeys.Model.Tests.Support;

/// <summary>Valid VirtualKeys for tests to break one rule at a time.</summary>
internal static class Keys
{
    /// <summary>
    /// Two tiers: OpenAI (any model) first, then Azure serving only gpt-4o-mini; an allow-list, an alias
    /// and every optional block set.
    /// </summary>
    public static VirtualKey Valid() => new()
    {
        Metadata = new V1ObjectMeta { Name = "team-a", NamespaceProperty = "default" },
        Spec = new VirtualKeySpec
        {
            Providers =
            [
                new ProviderSpec
                {
                    Name = "openai",
                    Type = ProviderType.OpenAI,
                    SecretRef = new SecretKeyRef { Name = "openai-key", Key = "apiKey" },
                },
                new ProviderSpec
                {
                    Name = "azure",
                    Type = ProviderType.AzureOpenAI,
                    BaseUrl = "https://team-a.openai.azure.com",
                    ApiVersion = "2024-10-21",
                    SecretRef = new SecretKeyRef { Name = "azure-key", Key = "apiKey" },
                    Models = ["gpt-4o-mini"],
                    Priority = 1,
                },
            ],
            DefaultModel = "gpt-4o-mini",
            AllowedModels = ["gpt-4o-mini", "gpt-4o"],
            ModelAliases = new Dictionary<string, string> { ["fast"] = "gpt-4o-mini" },
            Limits = new RateLimits { RequestsPerMinute = 60, TokensPerMinute = 10_000, MaxParallelRequests = 4 },
            Budget = new BudgetSpec { MaxCostUsd = "25.00", Period = BudgetPeriod.Monthly, AlertAtPercent = 80 },
            ExpiresAt = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero),
        },
    };

    /// <summary><see cref="Valid"/> with every provider limited to the given models.</summary>
    public static VirtualKey ServingOnly(params string[] models)
    {
        var key = Valid();
        foreach (var provider in key.Spec.Providers)
        {
            provider.Models = [.. models];
        }

        return key;
    }
}
