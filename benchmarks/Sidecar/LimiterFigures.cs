namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>The limiter phase's figures; the per-1000 ratios are null when nothing was admitted.</summary>
/// <param name="AccuracyMin">Fewest requests admitted in a full UTC minute, over the limit.</param>
/// <param name="AccuracyMax">Most requests admitted in a full UTC minute, over the limit.</param>
/// <param name="RoundTripsPer1000Admitted">Registry database round trips (see <see cref="PostgresStats.RoundTripsAsync"/>) during the load per 1000 admitted requests.</param>
/// <param name="AdmissionRoundTripsPer1000Admitted">The same without the usage recording's round trips (see <see cref="PostgresStats.UsageRoundTripsAsync"/>).</param>
/// <param name="TransactionsPer1000Admitted">Registry database transactions (pg_stat_database) during the load per 1000 admitted requests.</param>
/// <param name="StatementsPer1000Admitted">Top-level statements (pg_stat_statements) during the load per 1000 admitted requests.</param>
internal sealed record LimiterFigures(
    double AccuracyMin,
    double AccuracyMax,
    IReadOnlyList<long> AdmittedPerWindow,
    long Admitted,
    double? RoundTripsPer1000Admitted,
    double? AdmissionRoundTripsPer1000Admitted,
    double? TransactionsPer1000Admitted,
    double? StatementsPer1000Admitted);
