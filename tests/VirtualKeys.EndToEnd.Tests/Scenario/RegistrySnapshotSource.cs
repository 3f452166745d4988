using System.Runtime.CompilerServices;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Sidecar.Snapshot;
using SidecarBudgetPeriod = VirtualKeys.Sidecar.Snapshot.BudgetPeriod;
using SidecarKeyBudget = VirtualKeys.Sidecar.Snapshot.KeyBudget;
using SidecarKeyLimits = VirtualKeys.Sidecar.Snapshot.KeyLimits;
using SidecarProviderType = VirtualKeys.Sidecar.Snapshot.ProviderType;

namespace VirtualKeys.EndToEnd.Tests.Scenario;

/// <summary>
/// Feeds the sidecar from the registry the operator writes: every live key with its credentials,
/// then the changes since, polled. VirtualKeys.Sidecar ships no registry-backed source yet (nor may
/// this project reference the CLI's demo-only one); replace this with the sidecar's own once it exists.
/// </summary>
internal sealed class RegistrySnapshotSource(VirtualKeyRegistry registry) : IKeySnapshotSource
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public async IAsyncEnumerable<KeySnapshotChange> SubscribeAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var all = await registry.ListLiveKeysAsync(includeCredentials: true, cancellationToken);
        yield return KeySnapshotChange.Reload([.. all.Keys.Select(ToEntry)]);
        var version = all.ChangeVersion;
        using var timer = new PeriodicTimer(PollInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var changed = await registry.ListChangedSinceAsync(version, includeCredentials: true, cancellationToken);
            foreach (var record in changed.Keys)
            {
                yield return KeySnapshotChange.Upsert(ToEntry(record));
            }

            version = changed.ChangeVersion;
        }
    }

    private static VirtualKeyEntry ToEntry(VirtualKeyRecord record)
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
                _ => KeyState.Active,
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
                ? new SidecarKeyBudget(budget.MaxCostUsd, Enum.Parse<SidecarBudgetPeriod>(budget.Period.ToString()), budget.AlertAtPercent)
                : null,
            TokenHashes = [.. record.Tokens.Select(token => new TokenHash(token.Hash, token.NotAfter))],
        };
    }
}
