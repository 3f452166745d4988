using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Prometheus;
using VirtualKeys.Operator.Observability;

namespace VirtualKeys.Operator.Hosting;

/// <summary>What an embedding process (tests, <c>vk demo</c>) may change about an <see cref="OperatorApp"/>; every member is optional.</summary>
public sealed class OperatorAppOptions
{
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>The <c>Logging</c> section (levels per category) applied to the default logging.</summary>
    public IConfiguration? LoggingConfiguration { get; init; }

    /// <summary>Replaces the default logging (JSON lines on the console).</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>Where metrics are registered and served from; the process-wide default registry when null. Give each in-process instance its own.</summary>
    public CollectorRegistry? MetricsRegistry { get; init; }

    public IExternalCallObserver? CallObserver { get; init; }

    /// <summary>Handlers put in front of the Kubernetes client's HTTP pipeline (e.g. to count requests).</summary>
    public IReadOnlyList<DelegatingHandler> KubernetesHandlers { get; init; } = [];

    /// <summary>How long a graceful stop lets running reconciles finish before cancelling them.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(20);
}
