using VirtualKeys.Model;

namespace VirtualKeys.Operator.Usage;

internal static class BudgetMessages
{
    public static string Exhausted(VirtualKey key, DateTimeOffset now) =>
        $"Spent {UsdAmount.Format(BudgetState.Spend(key, now))} of the {key.Spec.Budget?.Period} budget of {key.Spec.Budget?.MaxCostUsd} USD: requests are refused until the period ends or the budget is raised.";

    public static string Alert(VirtualKey key, DateTimeOffset now) =>
        $"Spent {UsdAmount.Format(BudgetState.Spend(key, now))} of the {key.Spec.Budget?.Period} budget of {key.Spec.Budget?.MaxCostUsd} USD, at or above the alert threshold of {key.Spec.Budget?.AlertAtPercent}%.";
}
