using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Tests.Support;

/// <summary>Builds virtual keys with real registry-format tokens.</summary>
internal static class TestKeys
{
    public static (VirtualKeyEntry Entry, string Token) Create(
        string name,
        IReadOnlyList<ProviderEntry> providers,
        Func<VirtualKeyEntry, VirtualKeyEntry>? customize = null)
    {
        var keyId = VirtualKeyId.FromUid(Guid.NewGuid().ToString());
        var token = VirtualKeyToken.Generate(keyId).Reveal();
        var entry = new VirtualKeyEntry
        {
            KeyId = keyId,
            Namespace = "team-a",
            Name = name,
            DefaultModel = "gpt-4o-mini",
            Providers = providers,
            TokenHashes = [TokenHash.FromToken(token)],
        };
        return (customize is null ? entry : customize(entry), token);
    }

    public static ProviderEntry OpenAI(string baseUrl, string credential = "sk-real-openai-credential-0001", string name = "openai", int priority = 0, int weight = 1, IReadOnlyList<string>? models = null) => new()
    {
        Name = name,
        Type = ProviderType.OpenAI,
        BaseUrl = baseUrl,
        Credential = credential,
        Priority = priority,
        Weight = weight,
        Models = models ?? [],
    };

    public static ProviderEntry Anthropic(string baseUrl, string credential = "sk-ant-real-anthropic-credential-0002", string name = "anthropic", int priority = 0) => new()
    {
        Name = name,
        Type = ProviderType.Anthropic,
        BaseUrl = baseUrl,
        Credential = credential,
        Priority = priority,
    };

    public static ProviderEntry Of(ProviderType type, string baseUrl, string credential, string name, int priority = 0, string? apiVersion = null) => new()
    {
        Name = name,
        Type = type,
        BaseUrl = baseUrl,
        Credential = credential,
        Priority = priority,
        AzureApiVersion = apiVersion,
    };

    /// <summary>A copy with changes: entries are immutable, as the registry hands them out.</summary>
    public static VirtualKeyEntry With(
        this VirtualKeyEntry entry,
        KeyState? state = null,
        DateTimeOffset? expiresAt = null,
        string? defaultModel = null,
        IReadOnlyList<string>? allowedModels = null,
        IReadOnlyDictionary<string, string>? aliases = null,
        IReadOnlyList<ProviderEntry>? providers = null,
        KeyLimits? limits = null,
        KeyBudget? budget = null,
        IReadOnlyList<TokenHash>? tokenHashes = null) => new()
        {
            KeyId = entry.KeyId,
            Namespace = entry.Namespace,
            Name = entry.Name,
            State = state ?? entry.State,
            ExpiresAt = expiresAt ?? entry.ExpiresAt,
            DefaultModel = defaultModel ?? entry.DefaultModel,
            AllowedModels = allowedModels ?? entry.AllowedModels,
            ModelAliases = aliases ?? entry.ModelAliases,
            Providers = providers ?? entry.Providers,
            Limits = limits ?? entry.Limits,
            Budget = budget ?? entry.Budget,
            TokenHashes = tokenHashes ?? entry.TokenHashes,
        };
}
