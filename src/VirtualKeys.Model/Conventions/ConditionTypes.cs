namespace VirtualKeys.Model;

/// <summary>The <c>type</c> values of the conditions in <c>status.conditions</c>.</summary>
public static class ConditionTypes
{
    /// <summary>
    /// True when the key is registered and usable right now. When False, the reason says why
    /// (see <see cref="ConditionReasons"/>) and the message names the field or Secret to fix.
    /// </summary>
    public const string Ready = "Ready";

    /// <summary>True once spending in the current period has reached <c>spec.budget.alertAtPercent</c>.</summary>
    public const string BudgetAlert = "BudgetAlert";
}
