namespace VirtualKeys.Operator.Reconciliation;

public sealed class VirtualKeyReconcilerOptions
{
    /// <summary>How long a rotated-out token keeps working (Operator__TokenRotationGrace).</summary>
    public TimeSpan TokenRotationGrace { get; set; } = TimeSpan.FromHours(1);
}
