using Prometheus;

namespace VirtualKeys.Operator.Runtime.Metrics;

/// <summary>
/// The runtime's Prometheus instruments. Every instrument carries the controller, queue or lease
/// name as a label, so one set serves every controller in the process; tests pass their own
/// registry through <see cref="IMetricFactory"/> to read values without global state.
/// </summary>
public sealed class ControllerMetrics
{
    private readonly Counter _reconciles;
    private readonly Histogram _reconcileDuration;
    private readonly Gauge _queueDepth;
    private readonly Counter _queueAdds;
    private readonly Counter _queueRetries;
    private readonly Gauge _inFlight;
    private readonly Gauge _isLeader;

    public ControllerMetrics()
        : this(Prometheus.Metrics.DefaultFactory)
    {
    }

    public ControllerMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _reconciles = factory.CreateCounter(
            "vk_controller_reconcile_total",
            "Reconciles finished, by controller and result (success, requeue_after, error, canceled).",
            ["controller", "result"]);
        _reconcileDuration = factory.CreateHistogram(
            "vk_controller_reconcile_duration_seconds",
            "Time spent in one reconcile, by controller.",
            new HistogramConfiguration
            {
                LabelNames = ["controller"],
                Buckets = Histogram.ExponentialBuckets(0.001, 2, 16),
            });
        _queueDepth = factory.CreateGauge(
            "vk_workqueue_depth",
            "Keys ready to be handed to a worker, by queue.",
            ["queue"]);
        _queueAdds = factory.CreateCounter(
            "vk_workqueue_adds_total",
            "Keys added to the queue (before de-duplication), by queue.",
            ["queue"]);
        _queueRetries = factory.CreateCounter(
            "vk_workqueue_retries_total",
            "Keys re-queued with backoff after a failed reconcile, by queue.",
            ["queue"]);
        _inFlight = factory.CreateGauge(
            "vk_controller_reconciles_in_flight",
            "Reconciles running now, by controller.",
            ["controller"]);
        _isLeader = factory.CreateGauge(
            "vk_leader_election_is_leader",
            "1 while this process holds the lease, else 0, by lease (namespace/name).",
            ["lease"]);
    }

    public void ReconcileFinished(string controller, string result, TimeSpan duration)
    {
        _reconciles.WithLabels(controller, result).Inc();
        _reconcileDuration.WithLabels(controller).Observe(duration.TotalSeconds);
    }

    public void ReconcileStarted(string controller) => _inFlight.WithLabels(controller).Inc();

    public void ReconcileEnded(string controller) => _inFlight.WithLabels(controller).Dec();

    public void QueueDepth(string queue, int depth) => _queueDepth.WithLabels(queue).Set(depth);

    public void QueueAdded(string queue) => _queueAdds.WithLabels(queue).Inc();

    public void QueueRetried(string queue) => _queueRetries.WithLabels(queue).Inc();

    public void Leader(string lease, bool isLeader) => _isLeader.WithLabels(lease).Set(isLeader ? 1 : 0);
}
