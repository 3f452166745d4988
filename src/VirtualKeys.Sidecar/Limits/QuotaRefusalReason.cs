namespace VirtualKeys.Sidecar.Limits;

public enum QuotaRefusalReason
{
    None,
    RequestsPerMinute,
    TokensPerMinute,
    ParallelRequests,
    Budget,
}
