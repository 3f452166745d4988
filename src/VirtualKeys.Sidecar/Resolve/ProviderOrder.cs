using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>Orders a key's providers for one request: tier by tier, weighted random inside a tier.</summary>
internal static class ProviderOrder
{
    /// <summary>The result may be shared between requests: never modify it.</summary>
    public static ServingProvider[] For(ServingKey key, string model, ProxyRoute? route, out bool anyServesModel)
    {
        var providers = key.Providers;
        var count = 0;
        anyServesModel = false;
        foreach (var provider in providers)
        {
            if (provider.Serves(model))
            {
                anyServesModel = true;
                if (route is null || provider.ServesRoute(route))
                {
                    count++;
                }
            }
        }

        if (count == 0)
        {
            return [];
        }

        // The common case, one provider per tier and all of them eligible, needs no draw and no copy.
        if (count == providers.Length && key.OneProviderPerTier)
        {
            return providers;
        }

        var ordered = new ServingProvider[count];
        var next = 0;
        foreach (var provider in providers)
        {
            if (provider.Serves(model) && (route is null || provider.ServesRoute(route)))
            {
                ordered[next++] = provider;
            }
        }

        var tierStart = 0;
        for (var i = 1; i <= count; i++)
        {
            if (i == count || ordered[i].Priority != ordered[tierStart].Priority)
            {
                ShuffleByWeight(ordered.AsSpan(tierStart, i - tierStart));
                tierStart = i;
            }
        }

        return ordered;
    }

    /// <summary>Weighted sampling without replacement; weight 0 providers stay last (standbys).</summary>
    private static void ShuffleByWeight(Span<ServingProvider> tier)
    {
        for (var i = 0; i < tier.Length - 1; i++)
        {
            long total = 0;
            for (var j = i; j < tier.Length; j++)
            {
                total += Math.Max(0, tier[j].Weight);
            }

            if (total == 0)
            {
                return;
            }

            var pick = Random.Shared.NextInt64(total);
            for (var j = i; j < tier.Length; j++)
            {
                pick -= Math.Max(0, tier[j].Weight);
                if (pick < 0)
                {
                    (tier[i], tier[j]) = (tier[j], tier[i]);
                    break;
                }
            }
        }
    }
}
