namespace VirtualKeys.Registry.Usage;

/// <summary>A key's usage in one budget period.</summary>
/// <param name="Requests">Requests served; refused ones are counted in <paramref name="Rejections"/> only.</param>
/// <param name="Rejections">Refused requests by cause.</param>
/// <param name="LastRequestAt">The latest request, served or refused; null when there was none.</param>
public sealed record UsageTotals(
    string KeyId,
    BudgetPeriodKind Period,
    DateTimeOffset PeriodStart,
    long Requests,
    long InputTokens,
    long OutputTokens,
    decimal CostUsd,
    IReadOnlyDictionary<string, long> Rejections,
    DateTimeOffset? LastRequestAt);
