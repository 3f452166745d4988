using VirtualKeys.Registry.Keys;
using VirtualKeys.Sidecar.Snapshot;
using SidecarBudgetPeriod = VirtualKeys.Sidecar.Snapshot.BudgetPeriod;
using SidecarKeyBudget = VirtualKeys.Sidecar.Snapshot.KeyBudget;
using SidecarKeyLimits = VirtualKeys.Sidecar.Snapshot.KeyLimits;
using SidecarProviderType = VirtualKeys.Sidecar.Snapshot.ProviderType;

namespace VirtualKeys.Sidecar.Registry;

/// <summary>Turns a registry record (read with its credentials) into what the sidecar serves.</summary>
internal static class RegistryEntryMapper
{
    /// <param name="interner">
    /// Shares strings, model lists, provider entries, limits and budgets with the other keys it mapped, so
    /// a snapshot of many keys built from few templates holds each once; null shares nothing.
    /// </param>
    public static VirtualKeyEntry ToEntry(VirtualKeyRecord record, SnapshotInterner? interner = null)
    {
        interner ??= new SnapshotInterner();
        var config = record.Config;
        var providers = new ProviderEntry[config.Providers.Count];
        for (var i = 0; i < providers.Length; i++)
        {
            var provider = config.Providers[i];
            providers[i] = interner.Entry(new ProviderEntry
            {
                Name = provider.Name,
                Type = Enum.Parse<SidecarProviderType>(provider.Type.ToString()),
                BaseUrl = provider.BaseUrl,
                Credential = record.Credentials is { } credentials && credentials.TryGetValue(provider.Name, out var credential) ? credential.Secret : "",
                Models = provider.Models ?? [],
                Priority = provider.Priority,
                Weight = provider.Weight,
            });
        }

        var tokens = new TokenHash[record.Tokens.Count];
        for (var i = 0; i < tokens.Length; i++)
        {
            tokens[i] = new TokenHash(record.Tokens[i].Hash, record.Tokens[i].NotAfter);
        }

        return new VirtualKeyEntry
        {
            KeyId = record.KeyId,
            Namespace = interner.String(record.Identity.Namespace),
            Name = record.Identity.Name,
            State = record.State switch
            {
                VirtualKeyState.Suspended => KeyState.Suspended,
                VirtualKeyState.Tombstoned => KeyState.Tombstoned,
                _ => config.Suspended ? KeyState.Suspended : KeyState.Active,
            },
            ExpiresAt = config.ExpiresAt,
            DefaultModel = interner.OptionalString(config.DefaultModel),
            AllowedModels = interner.StringList(config.AllowedModels),
            ModelAliases = interner.AliasMap(config.ModelAliases),
            Providers = interner.ProviderEntryList(providers),
            Limits = interner.Limits(new SidecarKeyLimits(config.Limits.RequestsPerMinute, config.Limits.TokensPerMinute, config.Limits.MaxParallelRequests)),
            Budget = interner.Budget(config.Budget is { } budget
                ? new SidecarKeyBudget(budget.MaxCostUsd, ToSidecar(budget.Period), budget.AlertAtPercent)
                : null),
            TokenHashes = tokens,
        };
    }

    public static SidecarBudgetPeriod ToSidecar(VirtualKeys.Registry.Usage.BudgetPeriodKind period) =>
        Enum.Parse<SidecarBudgetPeriod>(period.ToString());
}
