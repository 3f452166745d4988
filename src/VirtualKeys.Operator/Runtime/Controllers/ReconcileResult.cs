namespace VirtualKeys.Operator.Runtime.Controllers;

/// <summary>
/// How a reconcile ended when it did not throw: <see cref="Done"/>, or come back after a delay
/// (polling something the cluster does not announce, like an expiry). A thrown exception means
/// "failed": the key returns with per-key exponential backoff.
/// </summary>
public readonly record struct ReconcileResult
{
    private ReconcileResult(TimeSpan? requeueDelay) => RequeueDelay = requeueDelay;

    public static ReconcileResult Done => default;

    /// <summary>Null when the reconcile is done until the next change.</summary>
    public TimeSpan? RequeueDelay { get; }

    public static ReconcileResult RequeueAfter(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return new ReconcileResult(delay);
    }
}
