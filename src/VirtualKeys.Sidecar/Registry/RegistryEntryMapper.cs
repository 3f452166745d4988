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
    public static VirtualKeyEntry ToEntry(VirtualKeyRecord record)
    {
        var config = record.Config;
        return new VirtualKeyEntry
        {
            KeyId = record.KeyId,
            Namespace = record.Identity.Namespace,
            Name = record.Identity.Name,
            State = record.State switch
            {
                VirtualKeyState.Suspended => KeyState.Suspended,
                VirtualKeyState.Tombstoned => KeyState.Tombstoned,
                _ => config.Suspended ? KeyState.Suspended : KeyState.Active,
            },
            ExpiresAt = config.ExpiresAt,
            DefaultModel = config.DefaultModel,
            AllowedModels = config.AllowedModels,
            ModelAliases = config.ModelAliases,
            Providers = [.. config.Providers.Select(provider => new ProviderEntry
            {
                Name = provider.Name,
                Type = Enum.Parse<SidecarProviderType>(provider.Type.ToString()),
                BaseUrl = provider.BaseUrl,
                Credential = record.Credentials is { } credentials && credentials.TryGetValue(provider.Name, out var credential) ? credential.Secret : "",
                Models = provider.Models ?? [],
                Priority = provider.Priority,
                Weight = provider.Weight,
            })],
            Limits = new SidecarKeyLimits(config.Limits.RequestsPerMinute, config.Limits.TokensPerMinute, config.Limits.MaxParallelRequests),
            Budget = config.Budget is { } budget
                ? new SidecarKeyBudget(budget.MaxCostUsd, ToSidecar(budget.Period), budget.AlertAtPercent)
                : null,
            TokenHashes = [.. record.Tokens.Select(token => new TokenHash(token.Hash, token.NotAfter))],
        };
    }

    public static SidecarBudgetPeriod ToSidecar(VirtualKeys.Registry.Usage.BudgetPeriodKind period) =>
        Enum.Parse<SidecarBudgetPeriod>(period.ToString());
}
