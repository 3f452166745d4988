using System.Collections.Concurrent;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// Which VirtualKeys name a Secret, as a provider Secret or as their token Secret, kept current by
/// the VirtualKey informer's events. A Secret event then maps to exactly the keys it matters to,
/// without scanning every key.
/// </summary>
public sealed class SecretReferenceIndex : IResourceEventHandler<VirtualKey>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Namespace, string Secret), HashSet<string>> _keysBySecret = [];
    private readonly ConcurrentDictionary<(string Namespace, string Key), string[]> _secretsByKey = new();

    public IReadOnlyList<ReconcileRequest> KeysReferencing(V1Secret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var ns = secret.Metadata?.NamespaceProperty ?? string.Empty;
        var name = secret.Metadata?.Name ?? string.Empty;
        lock (_lock)
        {
            return _keysBySecret.TryGetValue((ns, name), out var keys)
                ? [.. keys.Select(k => new ReconcileRequest(ns, k))]
                : [];
        }
    }

    public void OnAdded(VirtualKey obj) => Index(obj);

    public void OnUpdated(VirtualKey oldObj, VirtualKey newObj) => Index(newObj);

    public void OnDeleted(VirtualKey obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        Set(obj.Metadata.NamespaceProperty ?? string.Empty, obj.Metadata.Name, []);
    }

    internal static string[] SecretsOf(VirtualKey key)
    {
        var names = new List<string>();
        foreach (var provider in key.Spec?.Providers ?? [])
        {
            if (!string.IsNullOrEmpty(provider?.SecretRef?.Name))
            {
                names.Add(provider.SecretRef.Name);
            }
        }

        if (!string.IsNullOrEmpty(key.Spec?.TokenSecretName) || !string.IsNullOrEmpty(key.Metadata?.Name))
        {
            names.Add(key.GetTokenSecretName());
        }

        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    private void Index(VirtualKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Set(key.Metadata.NamespaceProperty ?? string.Empty, key.Metadata.Name, SecretsOf(key));
    }

    private void Set(string ns, string key, string[] secrets)
    {
        lock (_lock)
        {
            if (_secretsByKey.TryGetValue((ns, key), out var previous))
            {
                foreach (var secret in previous)
                {
                    if (_keysBySecret.TryGetValue((ns, secret), out var keys) && keys.Remove(key) && keys.Count == 0)
                    {
                        _keysBySecret.Remove((ns, secret));
                    }
                }
            }

            foreach (var secret in secrets)
            {
                if (!_keysBySecret.TryGetValue((ns, secret), out var keys))
                {
                    _keysBySecret[(ns, secret)] = keys = new HashSet<string>(StringComparer.Ordinal);
                }

                keys.Add(key);
            }

            if (secrets.Length == 0)
            {
                _secretsByKey.TryRemove((ns, key), out _);
            }
            else
            {
                _secretsByKey[(ns, key)] = secrets;
            }
        }
    }
}
