namespace VirtualKeys.Sidecar.Limits;

/// <summary>What an admitted request holds until it settles: one parallel slot and its reservations.</summary>
/// <param name="KeyId">The key whose account was charged.</param>
/// <param name="MinuteWindow">Minutes since the epoch (UTC) of the RPM/TPM window the request was admitted in.</param>
/// <param name="ReservedTokens">Tokens reserved against TPM.</param>
/// <param name="ReservedCostUsd">Cost reserved against the budget.</param>
public readonly record struct QuotaTicket(string KeyId, long MinuteWindow, long ReservedTokens, decimal ReservedCostUsd)
{
    /// <summary>The reserved tokens came out of a TPM lease (<see cref="SharedQuotaStore"/>), which settling corrects.</summary>
    public bool TokensLeased { get; init; }

    /// <summary>The budget period whose lease the reserved cost came out of (<see cref="SharedQuotaStore"/>); null when none.</summary>
    public DateTimeOffset? BudgetPeriodStart { get; init; }

    /// <summary>The part of <see cref="ReservedCostUsd"/> the budget lease did not cover at admission (<see cref="SharedQuotaStore"/>).</summary>
    public decimal BudgetOverdraft { get; init; }
}
