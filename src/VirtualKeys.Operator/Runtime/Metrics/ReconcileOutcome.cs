namespace VirtualKeys.Operator.Runtime.Metrics;

/// <summary>The <c>result</c> label values of <c>vk_controller_reconcile_total</c>.</summary>
public static class ReconcileOutcome
{
    public const string Success = "success";
    public const string RequeueAfter = "requeue_after";
    public const string Error = "error";
    public const string Canceled = "canceled";
}
