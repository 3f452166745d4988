using System.Text.RegularExpressions;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Model.Validation;

namespace VirtualKeys.Cli.Manifests;

/// <summary>What <c>vk create</c> was given, before it becomes a VirtualKey.</summary>
internal sealed partial record VirtualKeyDraft(
    string Name,
    string? Namespace,
    string ProviderSecret,
    ProviderType ProviderType,
    string? BaseUrl,
    string DefaultModel,
    IReadOnlyList<string> AllowedModels,
    int? RequestsPerMinute,
    int? TokensPerMinute,
    int? MaxParallelRequests,
    string? BudgetUsd,
    BudgetPeriod? BudgetPeriod,
    DateTimeOffset? ExpiresAt)
{
    /// <summary>The data key used when --provider-secret names only the Secret.</summary>
    public const string DefaultSecretKey = "apiKey";

    // The manifest's field paths as the options that set them, so that an error points at what to retype.
    private static readonly (string Field, string Option)[] OptionsByField =
    [
        ("spec.providers[0].secretRef", "--provider-secret"),
        ("spec.providers[0].baseUrl", "--base-url"),
        ("spec.providers[0].type", "--provider-type"),
        ("spec.defaultModel", "--default-model"),
        ("spec.allowedModels", "--allowed-model"),
        ("spec.limits.requestsPerMinute", "--rpm"),
        ("spec.limits.tokensPerMinute", "--tpm"),
        ("spec.limits.maxParallelRequests", "--max-parallel"),
        ("spec.budget", "--budget"),
        ("spec.expiresAt", "--expires-at"),
        ("spec.tokenSecretName", "NAME"),
        ("metadata.name", "NAME"),
    ];

    /// <summary>The VirtualKey, and every problem with it (empty when it is valid), each naming the field and option.</summary>
    public (VirtualKey VirtualKey, IReadOnlyList<string> Problems) Build()
    {
        var problems = new List<string>();
        var (secretName, secretKey) = SplitSecret(ProviderSecret);
        if (!NameRule().IsMatch(Name) || Name.Length > 253)
        {
            problems.Add(Describe(new ValidationProblem("metadata.name", $"must be a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (got '{Name}')")));
        }

        if (BudgetUsd is null && BudgetPeriod is not null)
        {
            problems.Add("spec.budget.period (--budget-period): needs --budget, the amount to cap");
        }

        var virtualKey = new VirtualKey
        {
            Metadata = new V1ObjectMeta { Name = Name, NamespaceProperty = Namespace },
            Spec = new VirtualKeySpec
            {
                Providers =
                [
                    new ProviderSpec
                    {
                        Name = ProviderType.ToString().ToLowerInvariant(),
                        Type = ProviderType,
                        BaseUrl = BaseUrl,
                        SecretRef = new SecretKeyRef { Name = secretName, Key = secretKey },
                    },
                ],
                DefaultModel = DefaultModel,
                AllowedModels = AllowedModels.Count > 0 ? [.. AllowedModels] : null,
                Limits = RequestsPerMinute is null && TokensPerMinute is null && MaxParallelRequests is null
                    ? null
                    : new RateLimits { RequestsPerMinute = RequestsPerMinute, TokensPerMinute = TokensPerMinute, MaxParallelRequests = MaxParallelRequests },
                Budget = BudgetUsd is null ? null : new BudgetSpec { MaxCostUsd = BudgetUsd, Period = BudgetPeriod ?? Model.BudgetPeriod.Monthly },
                ExpiresAt = ExpiresAt,
            },
        };

        problems.AddRange(VirtualKeyValidator.Validate(virtualKey).Select(Describe));
        return (virtualKey, problems);
    }

    private static (string Name, string Key) SplitSecret(string value)
    {
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (value, DefaultSecretKey) : (value[..colon], value[(colon + 1)..]);
    }

    private static string Describe(ValidationProblem problem)
    {
        var option = OptionsByField.FirstOrDefault(entry => problem.Field.StartsWith(entry.Field, StringComparison.Ordinal)).Option;
        return option is null ? problem.ToString() : $"{problem.Field} ({option}): {problem.Message}";
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex NameRule();
}
