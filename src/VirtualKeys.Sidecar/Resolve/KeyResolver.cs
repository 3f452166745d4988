using System.Buffers;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Errors;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Pricing;
using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>
/// Turns a presented token and a requested model into an admitted <see cref="Decision"/> or a
/// <see cref="Refusal"/>. Shared by the resolve API and the proxy, so both enforce exactly the same rules.
/// </summary>
internal sealed class KeyResolver
{
    private const int MaxModelLength = 256;

    /// <summary>What <see cref="char.IsControl(char)"/> matches: C0, DEL and C1.</summary>
    internal static readonly SearchValues<char> ControlCharacters = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7F, 0x21)).Select(c => (char)c)]);

    private readonly KeySnapshotStore _snapshots;
    private readonly IQuotaStore _quota;
    private readonly PricingTable _pricing;
    private readonly UsageBuffer _usage;
    private readonly SidecarMetrics _metrics;
    private readonly DecisionIds _ids;
    private readonly SidecarOptions _options;
    private readonly TimeProvider _time;

    public KeyResolver(
        KeySnapshotStore snapshots,
        IQuotaStore quota,
        PricingTable pricing,
        UsageBuffer usage,
        SidecarMetrics metrics,
        DecisionIds ids,
        SidecarOptions options,
        [FromKeyedServices(SidecarServiceKeys.Clock)] TimeProvider time)
    {
        _snapshots = snapshots;
        _quota = quota;
        _pricing = pricing;
        _usage = usage;
        _metrics = metrics;
        _ids = ids;
        _options = options;
        _time = time;
    }

    /// <param name="proxyRoute">Only providers whose API has this route (proxy); null for the resolve API.</param>
    /// <param name="route">Names the endpoint in a no-compatible-provider refusal.</param>
    public async ValueTask<ResolveResult> ResolveAsync(
        ReadOnlyMemory<char> token,
        string? requestedModel,
        long estimatedInputTokens,
        long maxOutputTokens,
        ProxyRoute? proxyRoute,
        string route,
        CancellationToken cancellationToken)
    {
        if (token.IsEmpty)
        {
            return Reject(null, Refusals.MissingApiKey);
        }

        if (!_snapshots.IsLoaded)
        {
            return Reject(null, Refusals.NotReady);
        }

        if (!TokenParser.TryParse(token.Span, out var keyId))
        {
            return Reject(null, Refusals.MalformedApiKey(TokenParser.Describe(token.Span)));
        }

        var now = _time.GetUtcNow();
        if (!_snapshots.Current.TryGet(keyId, out var key) || key.Entry.State == KeyState.Tombstoned)
        {
            return Reject(null, Refusals.InvalidApiKey);
        }

        switch (key.Check(token.Span, now))
        {
            case TokenCheck.Unknown:
                return Reject(null, Refusals.InvalidApiKey);
            case TokenCheck.Retired:
                return Reject(key, Refusals.RetiredApiKey);
        }

        var entry = key.Entry;
        if (entry.State == KeyState.Suspended)
        {
            return Reject(key, Refusals.KeySuspended);
        }

        if (entry.ExpiresAt is { } expiresAt && now >= expiresAt)
        {
            return Reject(key, Refusals.KeyExpired);
        }

        var model = string.IsNullOrEmpty(requestedModel) ? entry.DefaultModel : requestedModel;
        if (string.IsNullOrEmpty(model))
        {
            return Reject(key, Refusals.ModelRequired);
        }

        if (model.Length > MaxModelLength)
        {
            return Reject(key, Refusals.InvalidValue("model", $"The model name is longer than {MaxModelLength} characters."));
        }

        // No provider names a model with control characters; and a NUL would reach the usage rows,
        // which PostgreSQL refuses, holding up every usage write behind it.
        if (model.AsSpan().ContainsAny(ControlCharacters))
        {
            return Reject(key, Refusals.InvalidValue("model", "The model name must not contain control characters."));
        }

        model = key.ResolveAlias(model);
        if (!key.Allows(model))
        {
            return Reject(key, Refusals.ModelNotAllowed(model));
        }

        var candidates = ProviderOrder.For(key, model, proxyRoute, out var anyServesModel);
        if (candidates.Length == 0)
        {
            return Reject(key, anyServesModel ? Refusals.NoCompatibleProvider(model, route) : Refusals.ModelNotFound(model));
        }

        if (!_usage.TryReserve())
        {
            return Reject(key, Refusals.UsageBufferFull);
        }

        var priced = _pricing.TryFind(model, out var price, out var pricedAs);
        var modelLabel = SidecarMetrics.ModelLabel(key, model, pricedAs);
        if (!priced)
        {
            _metrics.Unpriced(modelLabel);
        }

        var demand = new QuotaDemand(
            entry.Limits,
            entry.Budget,
            estimatedInputTokens + maxOutputTokens,
            price.Cost(estimatedInputTokens, maxOutputTokens));

        QuotaDecision admission;
        try
        {
            admission = await _quota.TryAdmitAsync(entry.KeyId, demand, cancellationToken);
        }
        catch
        {
            _usage.CancelReservation();
            throw;
        }

        if (!admission.Admitted)
        {
            _usage.CancelReservation();
            return Reject(key, QuotaRefusal(entry, admission, demand.EstimatedTokens));
        }

        return new Decision
        {
            Id = _ids.Next(),
            Key = key,
            Model = model,
            ModelLabel = modelLabel,
            Price = price,
            Ticket = admission.Ticket,
            EstimatedInputTokens = estimatedInputTokens,
            MaxOutputTokens = maxOutputTokens,
            Candidates = candidates,
            CreatedAt = now,
            ExpiresAt = now + _options.DecisionTtl,
        };
    }

    private static Refusal QuotaRefusal(VirtualKeyEntry entry, QuotaDecision admission, long requestedTokens) => admission.Reason switch
    {
        QuotaRefusalReason.RequestsPerMinute => Refusals.RequestsPerMinute(entry.Limits.RequestsPerMinute ?? 0, admission.RetryAfter),
        QuotaRefusalReason.TokensPerMinute => Refusals.TokensPerMinute(entry.Limits.TokensPerMinute ?? 0, requestedTokens, admission.NeverFits, admission.RetryAfter),
        QuotaRefusalReason.ParallelRequests => Refusals.ParallelRequests(entry.Limits.MaxParallelRequests ?? 0, admission.RetryAfter),
        _ => Refusals.BudgetExhausted(entry.Budget?.MaxCostUsd ?? 0m, (entry.Budget?.Period ?? BudgetPeriod.Total).ToString().ToLowerInvariant(), admission.RetryAfter),
    };

    private Refusal Reject(ServingKey? key, Refusal refusal)
    {
        _metrics.Rejected(key, refusal.Code);
        if (key is not null)
        {
            _usage.CountRejection(key, refusal.Code);
        }

        return refusal;
    }
}
