using System.Runtime.CompilerServices;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Sidecar.Snapshot;
using SidecarBudgetPeriod = VirtualKeys.Sidecar.Snapshot.BudgetPeriod;
using SidecarKeyBudget = VirtualKeys.Sidecar.Snapshot.KeyBudget;
using SidecarKeyLimits = VirtualKeys.Sidecar.Snapshot.KeyLimits;
using SidecarProviderType = VirtualKeys.Sidecar.Snapshot.ProviderType;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// The demo's stand-in for the sidecar's registry-backed snapshot source, which VirtualKeys.Sidecar
/// does not ship yet: every live key with its credentials decrypted, then the changes since, polled
/// a few times a second (the real one is to follow LISTEN/NOTIFY). Replace it with the sidecar's own
/// as soon as that exists.
/// </summary>
internal sealed class RegistryKeySnapshotSource(VirtualKeyRegistry registry) : IKeySnapshotSource
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

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
                Type = (SidecarProviderType)Enum.Parse(typeof(SidecarProviderType), provider.Type.ToString()),
                BaseUrl = provider.BaseUrl,
                Credential = record.Credentials is { } credentials && credentials.TryGetValue(provider.Name, out var credential) ? credential.Secret : "",
                Models = provider.Models ?? [],
                Priority = provider.Priority,
                Weight = provider.Weight,
            })],
            Limits = new SidecarKeyLimits(config.Limits.RequestsPerMinute, config.Limits.TokensPerMinute, config.Limits.MaxParallelRequests),
            Budget = config.Budget is { } budget
                ? new SidecarKeyBudget(budget.MaxCostUsd, (SidecarBudgetPeriod)Enum.Parse(typeof(SidecarBudgetPeriod), budget.Period.ToString()), budget.AlertAtPercent)
                : null,
            TokenHashes = [.. record.Tokens.Select(token => new TokenHash(token.Hash, token.NotAfter))],
        };
    }
}
