namespace VirtualKeys.Operator.Reconciliation;

/// <summary>What the Ready condition says after a reconcile.</summary>
public sealed record ReconcileOutcome(bool Ready, string Reason, string Message)
{
    public static ReconcileOutcome NotReady(string reason, string message) => new(false, reason, message);
}
