using System.Globalization;
using System.Net;
using k8s;
using k8s.Autorest;
using VirtualKeys.Model;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// A user who keeps changing things, seeded so that a failing run can be replayed: creates,
/// updates (spec and provider Secret reference), rotates (the rotate-token annotation) and deletes
/// VirtualKeys from a small pool of names (so names are reused after a delete), and replaces,
/// deletes and re-creates the provider Secrets they reference.
/// </summary>
internal sealed class ChaosDriver(ChaosCluster cluster, Random random, int names)
{
    public static readonly string[] ProviderSecrets = ["provider-a", "provider-b"];

    private readonly HashSet<string> _deletedUids = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _counter;

    public int Creates { get; private set; }

    public int Updates { get; private set; }

    public int Rotations { get; private set; }

    public int Deletes { get; private set; }

    public int SecretChanges { get; private set; }

    /// <summary>Calls the API server refused (a name still being deleted, a key gone meanwhile).</summary>
    public int Refused { get; private set; }

    public int Operations => Creates + Updates + Rotations + Deletes + SecretChanges;

    public IReadOnlyCollection<string> DeletedUids
    {
        get
        {
            lock (_lock)
            {
                return [.. _deletedUids];
            }
        }
    }

    /// <summary>Provider Secrets present, then one key per name.</summary>
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        await RestoreAsync(cancellationToken);
    }

    /// <summary>Steps with short random pauses until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await StepAsync(stop);
                await Task.Delay(random.Next(50, 250), stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public async Task StepAsync(CancellationToken cancellationToken)
    {
        if (random.Next(10) == 0)
        {
            await ChangeProviderSecretAsync(cancellationToken);
            return;
        }

        var name = Name(random.Next(names));
        var existing = (await cluster.ListKeysAsync(cancellationToken)).FirstOrDefault(k => k.Metadata.Name == name);
        if (existing is null)
        {
            await CreateAsync(name, cancellationToken);
            return;
        }

        try
        {
            switch (random.Next(10))
            {
                case < 6:
                    var provider = ProviderSecrets[random.Next(ProviderSecrets.Length)];
                    await cluster.PatchKeyAsync(
                        name,
                        $$$"""{"spec":{"limits":{"requestsPerMinute":{{{random.Next(1, 10_000)}}} },"defaultModel":"{{{(random.Next(2) == 0 ? "gpt-4o-mini" : "gpt-4o")}}}","providers":[{"name":"openai","type":"OpenAI","secretRef":{"name":"{{{provider}}}","key":"{{{ChaosCluster.ProviderKeyField}}}"} }]} }""",
                        cancellationToken);
                    Updates++;
                    break;
                case < 9:
                    var request = "r" + Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture);
                    await cluster.PatchKeyAsync(name, $$$"""{"metadata":{"annotations":{"{{{WellKnown.RotateTokenAnnotation}}}":"{{{request}}}"} } }""", cancellationToken);
                    Rotations++;
                    break;
                default:
                    lock (_lock)
                    {
                        _deletedUids.Add(existing.Metadata.Uid);
                    }

                    await cluster.DeleteKeyAsync(name, cancellationToken);
                    Deletes++;
                    break;
            }
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            Refused++;
        }
    }

    /// <summary>
    /// Deletes one registered key (it carries the finalizer and its status names a key id, so the
    /// registry has its row), for a deletion the operator must finish after a restart. False when
    /// no key has been registered yet.
    /// </summary>
    public async Task<bool> DeleteARegisteredKeyAsync(CancellationToken cancellationToken)
    {
        var ready = (await cluster.ListKeysAsync(cancellationToken)).FirstOrDefault(k =>
            k.Metadata.DeletionTimestamp is null
            && k.Metadata.Finalizers?.Contains(WellKnown.Finalizer) == true
            && k.Status?.KeyId is not null);
        if (ready is null)
        {
            return false;
        }

        lock (_lock)
        {
            _deletedUids.Add(ready.Metadata.Uid);
        }

        await cluster.DeleteKeyAsync(ready.Metadata.Name, cancellationToken);
        Deletes++;
        return true;
    }

    /// <summary>
    /// Every provider Secret exists again and every name not held by a key (nor by one still being
    /// deleted) gets a new key, so the end state has keys to check and none waits for a Secret.
    /// </summary>
    public async Task RestoreAsync(CancellationToken cancellationToken)
    {
        var present = (await cluster.ListSecretsAsync(cancellationToken)).Select(s => s.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in ProviderSecrets.Where(n => !present.Contains(n)))
        {
            await cluster.PutProviderSecretAsync(name, NewProviderKey(), cancellationToken);
        }

        var taken = (await cluster.ListKeysAsync(cancellationToken)).Select(k => k.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < names; i++)
        {
            if (!taken.Contains(Name(i)))
            {
                await CreateAsync(Name(i), cancellationToken);
            }
        }
    }

    private async Task CreateAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var provider = ProviderSecrets[random.Next(ProviderSecrets.Length)];
            await cluster.CreateKeyAsync(ChaosCluster.NewKey(name, provider, random.Next(1, 10_000)), cancellationToken);
            Creates++;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // The previous key of this name still waits for its finalizer.
            Refused++;
        }
    }

    private async Task ChangeProviderSecretAsync(CancellationToken cancellationToken)
    {
        var name = ProviderSecrets[random.Next(ProviderSecrets.Length)];
        if (random.Next(4) == 0)
        {
            try
            {
                await cluster.Client.CoreV1.DeleteNamespacedSecretAsync(name, ChaosCluster.Ns, cancellationToken: cancellationToken);
                SecretChanges++;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                Refused++;
            }

            return;
        }

        await cluster.PutProviderSecretAsync(name, NewProviderKey(), cancellationToken);
        SecretChanges++;
    }

    private string NewProviderKey()
    {
        Span<byte> bytes = stackalloc byte[18];
        random.NextBytes(bytes);
        return "sk-chaos-" + Convert.ToHexStringLower(bytes);
    }

    private static string Name(int index) => "key-" + index.ToString(CultureInfo.InvariantCulture);
}
