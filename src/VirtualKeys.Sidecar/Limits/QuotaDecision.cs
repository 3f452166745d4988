namespace VirtualKeys.Sidecar.Limits;

/// <param name="Ticket">Valid only when <see cref="Admitted"/>.</param>
/// <param name="Reason">Why the request was refused.</param>
/// <param name="RetryAfter">When the refusing limit resets; null when it never does (a Total budget).</param>
/// <param name="NeverFits">The request alone is larger than the limit: waiting will not help.</param>
public readonly record struct QuotaDecision(QuotaTicket Ticket, QuotaRefusalReason Reason, TimeSpan? RetryAfter, bool NeverFits = false)
{
    public bool Admitted => Reason == QuotaRefusalReason.None;
}
