using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace VirtualKeys.Model.Validation;

/// <summary>
/// The rules of a VirtualKey that its schema cannot express (or that a server without schema
/// validation would let through). Reports every problem at once, each with the field path a person
/// edits, so that one failed apply is enough to fix a manifest.
/// </summary>
public static partial class VirtualKeyValidator
{
    /// <summary>Every problem of <paramref name="virtualKey"/>, in field order; empty when it is valid.</summary>
    public static IReadOnlyList<ValidationProblem> Validate(VirtualKey virtualKey)
    {
        ArgumentNullException.ThrowIfNull(virtualKey);
        var problems = new List<ValidationProblem>();
        var spec = virtualKey.Spec;
        if (spec is null)
        {
            problems.Add(new("spec", "is required"));
            return problems;
        }

        ValidateProviders(spec, problems);
        ValidateModels(spec, problems);
        ValidateLimits(spec.Limits, problems);
        ValidateBudget(spec.Budget, problems);
        ValidateTokenSecret(virtualKey, problems);
        return problems;
    }

    /// <summary>
    /// One line for a status condition, an Event or an error message, e.g.
    /// <c>spec.limits.requestsPerMinute: must be at least 1, got 0; spec.defaultModel: ...</c>.
    /// </summary>
    public static string Format(IEnumerable<ValidationProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        return string.Join("; ", problems);
    }

    private static void ValidateProviders(VirtualKeySpec spec, List<ValidationProblem> problems)
    {
        if (spec.Providers is null || spec.Providers.Count == 0)
        {
            problems.Add(new("spec.providers", "must list at least one provider"));
            return;
        }

        var firstIndexByName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < spec.Providers.Count; i++)
        {
            var path = $"spec.providers[{i}]";
            var provider = spec.Providers[i];
            if (provider is null)
            {
                problems.Add(new(path, "must not be null"));
                continue;
            }

            ValidateProviderName(provider.Name, i, path, firstIndexByName, problems);
            ValidateBaseUrl(provider, path, problems);
            ValidateApiVersion(provider, path, problems);
            ValidateSecretRef(provider.SecretRef, path + ".secretRef", problems);

            if (provider.Models is not null)
            {
                for (var m = 0; m < provider.Models.Count; m++)
                {
                    AddModelNameProblem(provider.Models[m], $"{path}.models[{m}]", problems);
                }
            }

            if (provider.Priority < 0)
            {
                problems.Add(new(path + ".priority", $"must be 0 or more, got {provider.Priority}"));
            }

            if (provider.Weight is < 1 or > 1000)
            {
                problems.Add(new(path + ".weight", $"must be between 1 and 1000, got {provider.Weight}"));
            }
        }
    }

    private static void ValidateProviderName(string? name, int index, string path, Dictionary<string, int> firstIndexByName, List<ValidationProblem> problems)
    {
        if (string.IsNullOrEmpty(name))
        {
            problems.Add(new(path + ".name", "is required"));
            return;
        }

        if (name.Length > NamePatterns.Dns1123LabelMaxLength || !FullMatch(Dns1123Label(), name))
        {
            problems.Add(new(path + ".name", $"must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (got {Quote(name)})"));
            return;
        }

        if (!firstIndexByName.TryAdd(name, index))
        {
            problems.Add(new(path + ".name", $"duplicates spec.providers[{firstIndexByName[name]}].name {Quote(name)}: provider names must be unique"));
        }
    }

    // The URL is never echoed: people paste keys into the wrong field, and messages end up in status and logs.
    private static void ValidateBaseUrl(ProviderSpec provider, string path, List<ValidationProblem> problems)
    {
        var field = path + ".baseUrl";
        if (string.IsNullOrWhiteSpace(provider.BaseUrl))
        {
            var example = provider.Type switch
            {
                ProviderType.AzureOpenAI => "the resource endpoint, e.g. https://NAME.openai.azure.com",
                ProviderType.OpenAICompatible => "the server's OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1",
                _ => null,
            };
            if (example is not null)
            {
                problems.Add(new(field, $"is required for type {provider.Type}: {example}"));
            }

            return;
        }

        if (!Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            problems.Add(new(field, "must be an absolute http or https URL, e.g. https://api.example.com/v1"));
        }
        else if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            problems.Add(new(field, "must not contain credentials (user:password@): the API key belongs in the Secret named by secretRef"));
        }
        else if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            problems.Add(new(field, "must not have a query string or fragment: keys belong in the Secret named by secretRef, Azure's api-version in apiVersion"));
        }
    }

    private static void ValidateApiVersion(ProviderSpec provider, string path, List<ValidationProblem> problems)
    {
        if (provider.ApiVersion is null)
        {
            return;
        }

        if (provider.Type != ProviderType.AzureOpenAI)
        {
            problems.Add(new(path + ".apiVersion", $"applies only to type AzureOpenAI, not {provider.Type}"));
        }
        else if (!FullMatch(AzureApiVersion(), provider.ApiVersion))
        {
            problems.Add(new(path + ".apiVersion", $"must be a date such as 2024-10-21, optionally followed by -preview (got {Quote(provider.ApiVersion)})"));
        }
    }

    private static void ValidateSecretRef(SecretKeyRef? secretRef, string path, List<ValidationProblem> problems)
    {
        if (secretRef is null)
        {
            problems.Add(new(path, "is required: the Secret name and key that hold the provider's API key"));
            return;
        }

        AddSecretNameProblem(secretRef.Name, path + ".name", problems);
        if (string.IsNullOrEmpty(secretRef.Key))
        {
            problems.Add(new(path + ".key", "is required"));
        }
        else if (secretRef.Key.Length > NamePatterns.SecretDataKeyMaxLength || !FullMatch(SecretDataKey(), secretRef.Key))
        {
            problems.Add(new(path + ".key", $"must be a Secret data key: at most 253 letters, digits, '-', '_' and '.' (got {Quote(secretRef.Key)})"));
        }
    }

    private static void ValidateModels(VirtualKeySpec spec, List<ValidationProblem> problems)
    {
        var providers = spec.Providers?.Where(p => p is not null).ToList() ?? [];
        bool Served(string model) => providers.Count == 0 || providers.Any(p => p.Serves(model));
        const string NotServed = "which no provider serves: every provider lists its models and none lists it";

        var aliases = spec.ModelAliases ?? new Dictionary<string, string>();

        if (spec.DefaultModel is not null && AddModelNameProblem(spec.DefaultModel, "spec.defaultModel", problems)
            && !aliases.ContainsKey(spec.DefaultModel))
        {
            // A default that is an alias is checked as that alias below.
            if (!spec.IsModelAllowed(spec.DefaultModel))
            {
                problems.Add(new("spec.defaultModel", $"{Quote(spec.DefaultModel)} is not in spec.allowedModels"));
            }
            else if (!Served(spec.DefaultModel))
            {
                problems.Add(new("spec.defaultModel", $"is {Quote(spec.DefaultModel)}, {NotServed}"));
            }
        }

        if (spec.AllowedModels is not null)
        {
            for (var i = 0; i < spec.AllowedModels.Count; i++)
            {
                var path = $"spec.allowedModels[{i}]";
                var model = spec.AllowedModels[i];
                if (AddModelNameProblem(model, path, problems) && !Served(model))
                {
                    problems.Add(new(path, $"is {Quote(model)}, {NotServed}"));
                }
            }
        }

        foreach (var (alias, target) in aliases)
        {
            var path = AliasPath(alias);
            if (!AddModelNameProblem(alias, path, problems, "alias name") || !AddModelNameProblem(target, path, problems))
            {
                continue;
            }

            if (aliases.ContainsKey(target) && !string.Equals(alias, target, StringComparison.Ordinal))
            {
                problems.Add(new(path, $"points at {Quote(target)}, which is itself an alias (aliases do not chain)"));
            }
            else if (!spec.IsModelAllowed(target))
            {
                problems.Add(new(path, $"points at {Quote(target)}, which is not in spec.allowedModels"));
            }
            else if (!Served(target))
            {
                problems.Add(new(path, $"points at {Quote(target)}, {NotServed}"));
            }
        }
    }

    private static void ValidateLimits(RateLimits? limits, List<ValidationProblem> problems)
    {
        if (limits is null)
        {
            return;
        }

        AddPositiveProblem(limits.RequestsPerMinute, "spec.limits.requestsPerMinute", problems);
        AddPositiveProblem(limits.TokensPerMinute, "spec.limits.tokensPerMinute", problems);
        AddPositiveProblem(limits.MaxParallelRequests, "spec.limits.maxParallelRequests", problems);
    }

    private static void ValidateBudget(BudgetSpec? budget, List<ValidationProblem> problems)
    {
        if (budget is null)
        {
            return;
        }

        if (!UsdAmount.TryParse(budget.MaxCostUsd, out var maxCost))
        {
            problems.Add(new("spec.budget.maxCostUsd", $"must be a decimal number of US dollars such as \"25\" or \"12.50\" (got {Quote(budget.MaxCostUsd ?? "")})"));
        }
        else if (maxCost <= 0)
        {
            problems.Add(new("spec.budget.maxCostUsd", $"must be greater than zero, got {Quote(budget.MaxCostUsd)} (to stop a key, set spec.suspended)"));
        }

        if (budget.AlertAtPercent is < 1 or > 100)
        {
            problems.Add(new("spec.budget.alertAtPercent", $"must be between 1 and 100, got {budget.AlertAtPercent}"));
        }
    }

    private static void ValidateTokenSecret(VirtualKey virtualKey, List<ValidationProblem> problems)
    {
        const string Field = "spec.tokenSecretName";
        var spec = virtualKey.Spec;
        string tokenSecretName;
        if (!string.IsNullOrEmpty(spec.TokenSecretName))
        {
            if (!AddSecretNameProblem(spec.TokenSecretName, Field, problems))
            {
                return;
            }

            tokenSecretName = spec.TokenSecretName;
        }
        else if (!string.IsNullOrEmpty(virtualKey.Metadata?.Name))
        {
            tokenSecretName = virtualKey.GetTokenSecretName();
            if (tokenSecretName.Length > NamePatterns.Dns1123SubdomainMaxLength)
            {
                problems.Add(new(Field, $"defaults to metadata.name followed by {WellKnown.TokenSecretNameSuffix}, which is longer than 253 characters: set a shorter one"));
                return;
            }
        }
        else
        {
            return;
        }

        for (var i = 0; i < (spec.Providers?.Count ?? 0); i++)
        {
            if (string.Equals(spec.Providers![i]?.SecretRef?.Name, tokenSecretName, StringComparison.Ordinal))
            {
                problems.Add(new(Field, $"the token Secret {Quote(tokenSecretName)} is also the Secret of spec.providers[{i}].secretRef, and the operator would overwrite the provider key: choose another name"));
            }
        }
    }

    /// <returns>Whether the name is valid.</returns>
    private static bool AddSecretNameProblem(string? name, string field, List<ValidationProblem> problems)
    {
        if (string.IsNullOrEmpty(name))
        {
            problems.Add(new(field, "is required"));
            return false;
        }

        if (name.Length > NamePatterns.Dns1123SubdomainMaxLength || !FullMatch(Dns1123Subdomain(), name))
        {
            problems.Add(new(field, $"must be a Secret name (DNS-1123 subdomain): at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (got {Quote(name)})"));
            return false;
        }

        return true;
    }

    /// <returns>Whether the name is valid.</returns>
    private static bool AddModelNameProblem(string? name, string field, List<ValidationProblem> problems, string what = "model name")
    {
        string? message = null;
        if (string.IsNullOrEmpty(name))
        {
            message = $"{what} must not be empty";
        }
        else if (name.Length > NamePatterns.ModelNameMaxLength)
        {
            message = $"{what} must be at most {NamePatterns.ModelNameMaxLength} characters (got {name.Length})";
        }
        else if (name.Any(char.IsControl))
        {
            message = $"{what} must not contain control characters (got {Quote(name)})";
        }
        else if (name.Any(IsInvisibleFormat))
        {
            // Zero-width and bidirectional-override characters make two different names look the
            // same in kubectl and in logs; no provider uses them in a model name.
            message = $"{what} must not contain invisible formatting characters such as zero-width spaces or direction overrides (got {Quote(name)})";
        }
        else if (char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]))
        {
            message = $"{what} must not start or end with white space (got {Quote(name)})";
        }

        if (message is not null)
        {
            problems.Add(new(field, message));
        }

        return message is null;
    }

    private static void AddPositiveProblem(int? value, string field, List<ValidationProblem> problems)
    {
        if (value is < 1)
        {
            problems.Add(new(field, $"must be at least 1, got {value} (omit the field for no limit)"));
        }
    }

    private static string AliasPath(string alias) =>
        FullMatch(SimpleKey(), alias) ? "spec.modelAliases." + alias : $"spec.modelAliases[{Quote(alias, '"')}]";

    /// <summary>Quotes a user value for a message: control characters escaped, long values shortened.</summary>
    private static string Quote(string value, char quote = '\'')
    {
        const int MaxQuotedLength = 64;
        var builder = new StringBuilder(Math.Min(value.Length, MaxQuotedLength) + 4).Append(quote);
        foreach (var c in value.Length > MaxQuotedLength ? value[..MaxQuotedLength] : value)
        {
            if (char.IsControl(c) || IsInvisibleFormat(c) || c == quote)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        if (value.Length > MaxQuotedLength)
        {
            builder.Append('…');
        }

        return builder.Append(quote).ToString();
    }

    private static bool IsInvisibleFormat(char c) => char.GetUnicodeCategory(c) == UnicodeCategory.Format;

    // The patterns are shared with the CRD (ECMA-262), where '$' does not match before a final newline as it does in .NET.
    private static bool FullMatch(Regex regex, string value) => value.Length > 0 && value[^1] != '\n' && regex.IsMatch(value);

    [GeneratedRegex(NamePatterns.Dns1123Label)]
    private static partial Regex Dns1123Label();

    [GeneratedRegex(NamePatterns.Dns1123Subdomain)]
    private static partial Regex Dns1123Subdomain();

    [GeneratedRegex(NamePatterns.SecretDataKey)]
    private static partial Regex SecretDataKey();

    [GeneratedRegex(NamePatterns.AzureApiVersion)]
    private static partial Regex AzureApiVersion();

    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex SimpleKey();
}
