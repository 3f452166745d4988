using System.Net;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>Bound from the "Sidecar" configuration section; validated once at start-up.</summary>
public sealed class SidecarOptions
{
    public const string SectionName = "Sidecar";

    /// <summary>Loopback by default: the sidecar hands out provider credentials to whoever can reach it.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; set; } = 8787;

    /// <summary>Serve callers that are not on the loopback interface (only behind a network policy).</summary>
    public bool AllowNonLoopbackCallers { get; set; }

    /// <summary>
    /// A second port that serves only <c>GET /metrics</c>, <c>/healthz</c> and <c>/readyz</c>, to any
    /// caller: Prometheus and the kubelet's httpGet probes reach them from outside the pod while the
    /// API, which hands out credentials, stays on <see cref="ListenAddress"/>. Null (the default): none.
    /// </summary>
    public int? MetricsPort { get; set; }

    /// <summary>
    /// Where <see cref="MetricsPort"/> listens; null (the default): every address, IPv6 as well where the
    /// node has it, so the kubelet's probes reach it on IPv4, IPv6 and dual-stack clusters alike.
    /// </summary>
    public string? MetricsListenAddress { get; set; }

    /// <summary>
    /// Requests the metrics port serves at once; a further one is answered 503 at once (and counted).
    /// Prometheus and the kubelet send one at a time each. Requests, not connections: idle connections
    /// that anyone who reaches the pod can hold open must not keep the kubelet's probes out (which
    /// would restart the sidecar), while scrapes held up by a slow reader cannot pile up without bound.
    /// </summary>
    public int MetricsPortMaxRequests { get; set; } = 16;

    /// <summary>Largest proxied request body (prompts with images are big).</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest body of the resolve and usage APIs.</summary>
    public int MaxApiBodyBytes { get; set; } = 16 * 1024;

    /// <summary>The longest <see cref="DecisionTtl"/> accepted: past it an open decision's slot and reservations outlive any request.</summary>
    public static readonly TimeSpan MaxDecisionTtl = TimeSpan.FromDays(1);

    /// <summary>How long an unreported resolve decision holds its slot before it is settled at its estimate (at most <see cref="MaxDecisionTtl"/>).</summary>
    public TimeSpan DecisionTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Label request, token and cost metrics with namespace/name of the key (off for very many keys).</summary>
    public bool PerKeyMetricLabels { get; set; } = true;

    /// <summary>
    /// How many keys get series of their own while <see cref="PerKeyMetricLabels"/> is on; the keys
    /// first seen get them, every later one counts under <c>key="(other)"</c>. A cardinality limit,
    /// as OpenTelemetry SDKs have one: each key adds about four series to every scrape of every
    /// replica, and each costs the sidecar about 2 KiB (27 MiB resident with 10,000 keys, measured in 929d083).
    /// </summary>
    public int PerKeyMetricKeyLimit { get; set; } = 2000;

    /// <summary>A JSON pricing file whose entries override the shipped table, e.g. mounted from a ConfigMap.</summary>
    public string? PricingFile { get; set; }

    /// <summary>Price of a model the table does not know; deliberately high so an unknown model does not look free.</summary>
    public decimal UnknownModelInputPerMillionUsd { get; set; } = 10m;

    public decimal UnknownModelOutputPerMillionUsd { get; set; } = 30m;

    /// <summary>Reserved for a request that states no max output tokens.</summary>
    public long DefaultMaxOutputTokens { get; set; } = 1024;

    /// <summary>
    /// Usage records held while PostgreSQL is slow or away (admitted requests not yet written, and
    /// decisions not yet reported). Size it as peak requests per second times the outage to ride out:
    /// the default holds about 3 minutes at 500 requests/s, a few hundred bytes a record when full.
    /// </summary>
    public int UsageBufferCapacity { get; set; } = 100_000;

    /// <summary>
    /// A batch is written as soon as this many usage records are queued. Larger batches cost
    /// PostgreSQL a little less per record but make each write a longer stretch of CPU, for the
    /// sidecar and for PostgreSQL: in the sidecar benchmark, where both share two cores with the load,
    /// 200 instead of 500 took about 1 ms off the p99 at half load (benchmarks/Sidecar/README.md).
    /// </summary>
    public int UsageBatchSize { get; set; } = 200;

    /// <summary>
    /// Longest time a usage record (or a counted refusal) waits before it is written when fewer than
    /// <see cref="UsageBatchSize"/> are queued: one PostgreSQL statement per batch instead of one
    /// transaction per request. It is also about how long the registry's totals (status.usage, the
    /// operator's view of spend) lag behind, and what a SIGKILLed sidecar can lose; SIGTERM writes everything.
    /// </summary>
    public TimeSpan UsageFlushInterval { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan UsageShutdownFlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Longest silence from an upstream (before headers, or between body chunks). Ten minutes, as the
    /// OpenAI and Anthropic SDKs wait: a reasoning model answering without streaming says nothing
    /// until it is done, which takes minutes, and a request cut off there was billed and is sent again.
    /// </summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan UpstreamConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Add <c>stream_options.include_usage</c> to streamed chat/completions requests that do not set
    /// stream_options, so usage can be metered from the stream instead of estimated.
    /// </summary>
    public bool RequestStreamUsage { get; set; } = true;

    public void Validate()
    {
        var problems = new List<string>();
        if (!IPAddress.TryParse(ListenAddress, out _))
        {
            problems.Add($"ListenAddress '{ListenAddress}' is not an IP address");
        }

        if (Port is < 0 or > 65535)
        {
            problems.Add($"Port {Port} is out of range");
        }

        if (MetricsPort is { } metricsPort)
        {
            if (metricsPort is < 1 or > 65535)
            {
                problems.Add($"MetricsPort {metricsPort} is out of range (1 to 65535)");
            }
            else if (metricsPort == Port)
            {
                problems.Add($"MetricsPort {metricsPort} is the API's Port too; give it a port of its own");
            }
        }

        if (MetricsListenAddress is not null && !IPAddress.TryParse(MetricsListenAddress, out _))
        {
            problems.Add($"MetricsListenAddress '{MetricsListenAddress}' is not an IP address");
        }

        Positive(MetricsPortMaxRequests, nameof(MetricsPortMaxRequests));
        Positive(MaxRequestBodyBytes, nameof(MaxRequestBodyBytes));
        Positive(MaxApiBodyBytes, nameof(MaxApiBodyBytes));
        Positive(UsageBufferCapacity, nameof(UsageBufferCapacity));
        Positive(UsageBatchSize, nameof(UsageBatchSize));
        Positive(DecisionTtl.Ticks, nameof(DecisionTtl));
        if (DecisionTtl > MaxDecisionTtl)
        {
            // An unreported decision holds its parallel slot and its token and budget reservations
            // until it expires, and its expiry is computed at every resolve.
            problems.Add($"DecisionTtl must be at most {MaxDecisionTtl:c}");
        }

        Positive(UpstreamTimeout.Ticks, nameof(UpstreamTimeout));
        Positive(UpstreamConnectTimeout.Ticks, nameof(UpstreamConnectTimeout));
        Positive(UsageShutdownFlushTimeout.Ticks, nameof(UsageShutdownFlushTimeout));
        Positive(UsageFlushInterval.Ticks, nameof(UsageFlushInterval));
        if (DefaultMaxOutputTokens < 0)
        {
            problems.Add("DefaultMaxOutputTokens must not be negative");
        }

        if (PerKeyMetricKeyLimit < 1)
        {
            problems.Add("PerKeyMetricKeyLimit must be at least 1 (PerKeyMetricLabels=false turns per-key labels off)");
        }

        if (UnknownModelInputPerMillionUsd < 0 || UnknownModelOutputPerMillionUsd < 0)
        {
            problems.Add("unknown-model prices must not be negative");
        }

        if (PricingFile is { Length: > 0 } file && !File.Exists(file))
        {
            problems.Add($"PricingFile {file} does not exist");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid sidecar options (section Sidecar): " + string.Join("; ", problems) + ".");
        }

        void Positive(long value, string name)
        {
            if (value <= 0)
            {
                problems.Add($"{name} must be positive");
            }
        }
    }
}
