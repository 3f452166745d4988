namespace VirtualKeys.Sidecar.Limits;

/// <summary>A point-in-time view of one key's counters, for readiness details, metrics and tests.</summary>
public readonly record struct QuotaAccountState(
    long RequestsThisMinute,
    long TokensThisMinute,
    int InFlight,
    decimal SpentUsd,
    decimal ReservedUsd,
    DateTimeOffset PeriodStart);
