using System.Text;
using k8s.Models;
using Npgsql;
using VirtualKeys.Model;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Reliability.Tests.Support;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// The end state every fault scenario must reach: each live VirtualKey Ready for its current
/// generation with exactly one token Secret whose token the registry accepts, older tokens only
/// within their grace period, the registry row matching the spec; deleted keys tombstoned and gone;
/// no registry row or token Secret left without its VirtualKey.
/// </summary>
internal static class ConvergenceCheck
{
    public const string TokenSecretLabel = WellKnown.Group + "/virtual-key";

    /// <param name="deletedUids">Uids of the VirtualKeys the scenario deleted.</param>
    /// <param name="grace">The operator's token rotation grace.</param>
    public static async Task<ConvergenceReport> RunAsync(
        ChaosCluster cluster,
        IReadOnlyCollection<string> deletedUids,
        TimeSpan grace,
        CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var keys = await cluster.ListKeysAsync(cancellationToken);
        var secrets = await cluster.ListSecretsAsync(cancellationToken);
        var rows = await RegistryRowsAsync(cluster.ConnectionString, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var liveUids = keys.Select(k => k.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
        var tokenSecrets = secrets.Where(s => s.Metadata.Labels?.ContainsKey(TokenSecretLabel) == true).ToList();
        var inGrace = 0;

        foreach (var key in keys)
        {
            var name = key.Metadata.Name;
            if (key.Metadata.DeletionTimestamp is not null)
            {
                problems.Add($"{name}: deleted but still present (finalizers: {string.Join(",", key.Metadata.Finalizers ?? [])})");
                continue;
            }

            var ready = key.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
            if (ready?.Status != "True" || key.Status?.ObservedGeneration != key.Metadata.Generation)
            {
                problems.Add($"{name}: Ready={ready?.Status ?? "none"} ({ready?.Reason}), observedGeneration {key.Status?.ObservedGeneration} of generation {key.Metadata.Generation}");
                continue;
            }

            var owned = tokenSecrets.Where(s => s.Metadata.OwnerReferences?.Any(o => o.Uid == key.Metadata.Uid) == true).ToList();
            if (owned.Count != 1 || owned[0].Metadata.Name != key.GetTokenSecretName())
            {
                problems.Add($"{name}: {owned.Count} token Secrets ({string.Join(",", owned.Select(s => s.Metadata.Name))}), expected exactly {key.GetTokenSecretName()}");
                continue;
            }

            var token = ReadToken(owned[0]);
            if (token is null || token.KeyId != VirtualKeyId.FromUid(key.Metadata.Uid))
            {
                problems.Add($"{name}: token Secret holds no token of key id {VirtualKeyId.FromUid(key.Metadata.Uid)}");
                continue;
            }

            SecretLedger.Track(token.Reveal());
            var verification = await cluster.Registry.VerifyTokenAsync(token.Reveal(), cancellationToken);
            if (verification.Status != TokenVerificationStatus.Accepted || verification.KeyId != token.KeyId)
            {
                problems.Add($"{name}: the registry answers {verification.Status} for the token in its Secret");
                continue;
            }

            var record = await cluster.Registry.GetAsync(ChaosCluster.Ns, name, includeCredentials: false, cancellationToken);
            if (record is null || record.Identity.Uid != key.Metadata.Uid || record.State != VirtualKeyState.Active)
            {
                problems.Add($"{name}: registry row {(record is null ? "missing" : $"of uid {record.Identity.Uid} in state {record.State}")}");
                continue;
            }

            if (record.Generation != key.Metadata.Generation || record.SpecFingerprint != RegistryMapping.SpecFingerprint(key))
            {
                problems.Add($"{name}: registry row at generation {record.Generation} does not match the spec of generation {key.Metadata.Generation}");
                continue;
            }

            var hash = token.ComputeHash();
            var current = record.Tokens.Where(t => t.NotAfter is null).ToList();
            if (current.Count != 1 || !current[0].Hash.AsSpan().SequenceEqual(hash))
            {
                problems.Add($"{name}: {current.Count} tokens without an end in the registry; expected one, the Secret's");
                continue;
            }

            foreach (var older in record.Tokens.Where(t => t.NotAfter is not null && t.NotAfter > now))
            {
                inGrace++;
                if (older.NotAfter > now + grace)
                {
                    problems.Add($"{name}: a rotated-out token works until {older.NotAfter:O}, beyond the {grace} grace");
                }
            }
        }

        var orphans = 0;
        foreach (var row in rows.Where(r => r.State != "tombstoned" && !liveUids.Contains(r.Uid)))
        {
            orphans++;
            problems.Add($"registry row {row.Name} (uid {row.Uid}) is {row.State} without a live VirtualKey");
        }

        foreach (var secret in tokenSecrets)
        {
            var owner = secret.Metadata.OwnerReferences?.FirstOrDefault(o => o.Controller == true);
            if (owner is null || !liveUids.Contains(owner.Uid))
            {
                orphans++;
                problems.Add($"token Secret {secret.Metadata.Name} has no live owner (owner uid {owner?.Uid ?? "none"})");
            }
        }

        var tombstones = 0;
        foreach (var uid in deletedUids)
        {
            if (liveUids.Contains(uid))
            {
                problems.Add($"deleted VirtualKey uid {uid} still exists");
            }

            var row = rows.FirstOrDefault(r => r.Uid == uid);
            if (row is not null)
            {
                tombstones++;
                if (row.State != "tombstoned")
                {
                    problems.Add($"deleted VirtualKey {row.Name} (uid {uid}) is {row.State} in the registry, not tombstoned");
                }
            }
        }

        return new ConvergenceReport(problems, orphans, keys.Count, inGrace, tombstones);
    }

    /// <summary>Polls until converged or <paramref name="bound"/> passes; returns the last report.</summary>
    public static async Task<ConvergenceReport> WaitAsync(
        ChaosCluster cluster,
        IReadOnlyCollection<string> deletedUids,
        TimeSpan grace,
        TimeSpan bound,
        CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + bound;
        while (true)
        {
            var report = await RunAsync(cluster, deletedUids, grace, cancellationToken);
            if (report.Converged || DateTimeOffset.UtcNow > deadline)
            {
                return report;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static VirtualKeyToken? ReadToken(V1Secret secret) =>
        secret.Data?.TryGetValue(WellKnown.TokenSecretKey, out var bytes) == true
        && VirtualKeyToken.TryParse(Encoding.UTF8.GetString(bytes), out var token)
            ? token
            : null;

    private static async Task<List<RegistryRow>> RegistryRowsAsync(string connectionString, CancellationToken cancellationToken)
    {
        var rows = new List<RegistryRow>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT name, uid, state FROM vk.virtual_keys", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new RegistryRow(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }

    private sealed record RegistryRow(string Name, string Uid, string State);
}
