using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Prometheus;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Observability;

/// <summary>
/// The sidecar's Prometheus metrics, in a registry of their own so several sidecars can share a process
/// (tests). Label values are passed as spans, so a lookup of an existing series allocates nothing.
/// Labels never carry a token or credential: keys appear as namespace/name (or not at all when
/// per-key labels are off) and client-chosen model names only when the key's configuration or the
/// pricing table names them, otherwise as "other".
/// </summary>
internal sealed class SidecarMetrics
{
    public const string OtherModel = "other";

    /// <summary>A request on the metrics port for something it does not serve.</summary>
    public const string MetricsPortNotServed = "not_served";

    /// <summary>A request on the metrics port answered 503 because <see cref="SidecarOptions.MetricsPortMaxRequests"/> were in progress.</summary>
    public const string MetricsPortRequestLimit = "request_limit";
    public const string NoKey = "";

    /// <summary>The key label of the keys beyond <see cref="SidecarOptions.PerKeyMetricKeyLimit"/> (not a valid namespace/name).</summary>
    public const string OtherKeys = "(other)";

    private readonly bool _perKey;
    private readonly int _keyLimit;
    private readonly ConcurrentDictionary<string, bool> _labelledKeys = new(StringComparer.Ordinal);
    private readonly Lock _labelledKeysGate = new();
    private int _labelledCount;
    private readonly Counter _requests;
    private readonly Counter _tokens;
    private readonly Counter _cost;
    private readonly Counter _rejections;
    private readonly Counter _unpriced;
    private readonly Counter _failovers;
    private readonly Counter _estimatedUsage;
    private readonly Counter _refusedUsage;
    private readonly Counter _metricsPortRefused;
    private readonly Histogram _resolveDuration;
    private readonly Histogram _upstreamDuration;
    private readonly Gauge _budgetSpent;
    private readonly Counter _quotaRoundTrips;
    private readonly Gauge _quotaReplicas;

    // The series a completed request counts in, found once per key (or model) rather than looked up by
    // their label values four times per request. Entries go with their ServingKey when it is replaced.
    private readonly ConditionalWeakTable<ServingKey, CompletionSeries> _keySeries = new();
    private readonly ConcurrentDictionary<string, CompletionSeries> _modelSeries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CompletionSeries> _otherKeysSeries = new(StringComparer.Ordinal);

    public SidecarMetrics(SidecarOptions options)
    {
        _perKey = options.PerKeyMetricLabels;
        _keyLimit = options.PerKeyMetricKeyLimit;
        Registry = Metrics.NewCustomRegistry();

        // The process's own figures, as every Prometheus exporter has them (process_cpu_seconds_total,
        // process_working_set_bytes, dotnet_collection_count_total, ...): read at each scrape, nothing
        // per request. Sizing a sidecar's CPU and memory starts from these.
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);

        _requests = factory.CreateCounter("vk_sidecar_requests_total", "Admitted requests by outcome (refusals are in vk_sidecar_rejections_total).", Labels("model", "outcome"));
        _tokens = factory.CreateCounter("vk_sidecar_tokens_total", "Tokens used, by direction (input or output).", Labels("model", "direction"));
        _cost = factory.CreateCounter("vk_sidecar_cost_usd_total", "Cost in USD, priced from the pricing table.", Labels("model"));
        _rejections = factory.CreateCounter("vk_sidecar_rejections_total", "Requests refused, by reason (the error code).", Labels("reason"));
        _unpriced = factory.CreateCounter("vk_sidecar_unpriced_model_requests_total", "Requests for models missing from the pricing table, priced by the default.", "model");
        _failovers = factory.CreateCounter("vk_sidecar_upstream_failovers_total", "Proxy attempts abandoned for the next provider, by provider type and cause.", "provider_type", "reason");
        _estimatedUsage = factory.CreateCounter("vk_sidecar_usage_estimated_total", "Requests whose tokens were estimated: no usage was reported, or a proxied answer ended early.");
        _refusedUsage = factory.CreateCounter("vk_sidecar_usage_records_refused_total", "Usage records the registry refused to store (logged one by one at Error); any is a bug to report.");
        _metricsPortRefused = factory.CreateCounter("vk_sidecar_metrics_port_refused_total", "Requests the metrics port answered with an error: anything but GET /metrics, /healthz, /readyz (not_served), and requests beyond Sidecar__MetricsPortMaxRequests in progress (request_limit).", "reason");

        // Both series from the start: an alert on a rate needs the zero before the first increment.
        _metricsPortRefused.WithLabels([MetricsPortNotServed]);
        _metricsPortRefused.WithLabels([MetricsPortRequestLimit]);

        // No labels: an "endpoint" label (it once held the one value "resolve") collides with the target
        // label of the same name the Prometheus Operator adds to every scraped series.
        _resolveDuration = factory.CreateHistogram("vk_sidecar_resolve_duration_seconds", "Time to resolve a key into a routing decision (admission included).", new HistogramConfiguration
        {
            Buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
        });
        _upstreamDuration = factory.CreateHistogram("vk_sidecar_upstream_duration_seconds", "Time from sending to an upstream until its response ended.", new HistogramConfiguration
        {
            LabelNames = ["provider_type", "status"],
            Buckets = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
        });
        _budgetSpent = factory.CreateGauge("vk_sidecar_budget_spent_ratio", "Spend in the current budget period as a fraction of the cap (per key only).", "key");

        SnapshotAge = factory.CreateGauge("vk_sidecar_snapshot_age_seconds", "Time since the key snapshot was last confirmed by its source; -1 before the first load.");
        SnapshotKeys = factory.CreateGauge("vk_sidecar_snapshot_keys", "Virtual keys in the served snapshot.");
        UsageBufferDepth = factory.CreateGauge("vk_sidecar_usage_buffer_depth", "Usage records waiting for the sink plus places reserved by requests in flight.");
        UsageBufferCapacity = factory.CreateGauge("vk_sidecar_usage_buffer_capacity", "Places in the usage buffer; requests are refused with 503 when it is full.");
        Degraded = factory.CreateGauge("vk_sidecar_degraded", "1 while a dependency fails and the sidecar serves from what it has.", "component");
        InFlightDecisions = factory.CreateGauge("vk_sidecar_inflight_decisions", "Resolve decisions issued and not yet reported or expired.");
        ExpiredDecisions = factory.CreateCounter("vk_sidecar_decisions_expired_total", "Resolve decisions never reported, settled at their estimate.");
        _quotaRoundTrips = factory.CreateCounter("vk_sidecar_quota_roundtrips_total", "Round trips to PostgreSQL for shared quotas (lease grants, returns, heartbeats).");
        _quotaReplicas = factory.CreateGauge("vk_sidecar_quota_live_replicas", "Sidecar replicas sharing the limits at the last heartbeat; an outage limits each key to 1/this of its limits.");
        LabelledKeys = factory.CreateGauge("vk_sidecar_metric_labelled_keys", "Keys with series of their own; once it reaches Sidecar__PerKeyMetricKeyLimit, further keys count under key=\"(other)\".");
    }

    public CollectorRegistry Registry { get; }

    public Gauge SnapshotAge { get; }

    public Gauge SnapshotKeys { get; }

    public Gauge UsageBufferDepth { get; }

    public Gauge UsageBufferCapacity { get; }

    public Gauge Degraded { get; }

    public Gauge InFlightDecisions { get; }

    public Counter ExpiredDecisions { get; }

    public Gauge LabelledKeys { get; }

    /// <summary>
    /// A model the key's configuration names, else the pricing table's name for it (a client's
    /// "gpt-4o-2024-08-06" counts as "gpt-4o"), else "other": never free text from a request, which
    /// would grow the series without bound and show whatever a client wrote on /metrics.
    /// </summary>
    public static string ModelLabel(ServingKey key, string model, string? pricedAs) =>
        key.MentionsModel(model) ? model : pricedAs ?? OtherModel;

    public void Completed(ServingKey key, string modelLabel, string outcome, long inputTokens, long outputTokens, decimal costUsd)
    {
        var series = SeriesFor(key, modelLabel);
        var requests = string.Equals(outcome, CompletionSeries.CachedOutcome, StringComparison.Ordinal)
            ? series.Succeeded
            : _perKey ? _requests.WithLabels([KeyLabel(key), modelLabel, outcome]) : _requests.WithLabels([modelLabel, outcome]);
        requests.Inc();
        series.InputTokens.Inc(inputTokens);
        series.OutputTokens.Inc(outputTokens);
        series.Cost.Inc((double)costUsd);
    }

    public void Rejected(ServingKey? key, string reason)
    {
        if (_perKey)
        {
            _rejections.WithLabels([key is null ? NoKey : KeyLabel(key), reason]).Inc();
        }
        else
        {
            _rejections.WithLabels([reason]).Inc();
        }
    }

    public void BudgetSpent(ServingKey key, decimal spentUsd, decimal maxUsd)
    {
        // A ratio of keys over the limit cannot be summed into "(other)": those keys have none.
        if (_perKey && maxUsd > 0 && KeyLabel(key) is var label && !ReferenceEquals(label, OtherKeys))
        {
            _budgetSpent.WithLabels([label]).Set((double)(spentUsd / maxUsd));
        }
    }

    /// <summary>Reports a shared quota store's state at every scrape: degraded{component="quota"}, round trips, live replicas.</summary>
    public void ObserveQuota(IQuotaHealth quota)
    {
        ArgumentNullException.ThrowIfNull(quota);
        Registry.AddBeforeCollectCallback(() =>
        {
            var health = quota.Health;
            Degraded.WithLabels("quota").Set(health.Degraded ? 1 : 0);
            _quotaRoundTrips.IncTo(health.RoundTrips);
            _quotaReplicas.Set(health.LiveReplicas);
        });
    }

    public void Unpriced(string modelLabel) => _unpriced.WithLabels([modelLabel]).Inc();

    public void Failover(string providerType, string reason) => _failovers.WithLabels([providerType, reason]).Inc();

    public void UsageEstimated() => _estimatedUsage.Inc();

    public void UsageRecordRefused() => _refusedUsage.Inc();

    public void MetricsPortRefused(string reason) => _metricsPortRefused.WithLabels([reason]).Inc();

    public void ResolveDuration(TimeSpan elapsed) => _resolveDuration.Observe(elapsed.TotalSeconds);

    public void UpstreamDuration(string providerType, string status, TimeSpan elapsed) =>
        _upstreamDuration.WithLabels([providerType, status]).Observe(elapsed.TotalSeconds);

    private string[] Labels(params string[] rest) => _perKey ? ["key", .. rest] : rest;

    private CompletionSeries SeriesFor(ServingKey key, string modelLabel)
    {
        if (!_perKey)
        {
            return _modelSeries.GetOrAdd(modelLabel, static (model, self) => self.CreateSeries(null, model), this);
        }

        // One model per key is the common case; a key that switches models replaces its entry.
        if (_keySeries.TryGetValue(key, out var cached) && string.Equals(cached.Model, modelLabel, StringComparison.Ordinal))
        {
            return cached;
        }

        var label = KeyLabel(key);
        if (ReferenceEquals(label, OtherKeys))
        {
            return _otherKeysSeries.GetOrAdd(modelLabel, static (model, self) => self.CreateSeries(OtherKeys, model), this);
        }

        var created = CreateSeries(label, modelLabel);
        _keySeries.AddOrUpdate(key, created);
        return created;
    }

    /// <summary>The key's own label while fewer than the limit have one (or it has one already), else <see cref="OtherKeys"/>.</summary>
    private string KeyLabel(ServingKey key)
    {
        var name = key.DisplayName;
        if (_labelledKeys.ContainsKey(name))
        {
            return name;
        }

        if (Volatile.Read(ref _labelledCount) >= _keyLimit)
        {
            return OtherKeys;
        }

        lock (_labelledKeysGate)
        {
            if (_labelledKeys.ContainsKey(name))
            {
                return name;
            }

            if (_labelledCount >= _keyLimit)
            {
                return OtherKeys;
            }

            _labelledKeys[name] = true;
            Volatile.Write(ref _labelledCount, _labelledCount + 1);
            LabelledKeys.Set(_labelledCount);
            return name;
        }
    }

    private CompletionSeries CreateSeries(string? key, string model) => key is null
        ? new CompletionSeries(
            model,
            _requests.WithLabels([model, CompletionSeries.CachedOutcome]),
            _tokens.WithLabels([model, "input"]),
            _tokens.WithLabels([model, "output"]),
            _cost.WithLabels([model]))
        : new CompletionSeries(
            model,
            _requests.WithLabels([key, model, CompletionSeries.CachedOutcome]),
            _tokens.WithLabels([key, model, "input"]),
            _tokens.WithLabels([key, model, "output"]),
            _cost.WithLabels([key, model]));

    private sealed class CompletionSeries(string model, Counter.Child succeeded, Counter.Child inputTokens, Counter.Child outputTokens, Counter.Child cost)
    {
        /// <summary>The outcome of nearly every request; others are looked up when they happen.</summary>
        public const string CachedOutcome = "success";

        public string Model { get; } = model;

        public Counter.Child Succeeded { get; } = succeeded;

        public Counter.Child InputTokens { get; } = inputTokens;

        public Counter.Child OutputTokens { get; } = outputTokens;

        public Counter.Child Cost { get; } = cost;
    }
}
