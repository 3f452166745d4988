using System.Text.Json.Serialization;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>A spending cap that resets every period.</summary>
public sealed class BudgetSpec
{
    /// <summary>
    /// The most the key may spend per period, in US dollars, as a decimal string such as "25" or "12.50".
    /// Requests are refused once it is reached.
    /// </summary>
    [Required]
    [Length(MinLength = 1, MaxLength = 32)]
    [Pattern(UsdAmount.Pattern)]
    [JsonPropertyName("maxCostUsd")]
    public string MaxCostUsd { get; set; } = "";

    /// <summary>
    /// When spending starts again from zero: Daily, Weekly (Mondays) and Monthly reset at 00:00 UTC;
    /// Total never resets.
    /// </summary>
    [Default(nameof(BudgetPeriod.Monthly))]
    [JsonPropertyName("period")]
    public BudgetPeriod Period { get; set; } = BudgetPeriod.Monthly;

    /// <summary>The share of maxCostUsd, in percent, at which the BudgetAlert condition turns True.</summary>
    [RangeMinimum(1)]
    [RangeMaximum(100)]
    [JsonPropertyName("alertAtPercent")]
    public int? AlertAtPercent { get; set; }
}
