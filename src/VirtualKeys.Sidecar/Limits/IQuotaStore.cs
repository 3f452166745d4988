namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// Per-key counters behind RPM, TPM, parallelism and budgets. Admission checks and charges every
/// dimension at once, so a request refused on one limit never holds another.
/// </summary>
/// <remarks>
/// <see cref="LocalQuotaStore"/> is exact for one replica. A cross-replica store can implement the same
/// contract by carving leases (blocks of requests, tokens and dollars) from shared counters and admitting
/// locally from them: the methods return <see cref="ValueTask"/> so a lease refill may go to the network,
/// while the common path completes synchronously without allocating.
/// </remarks>
public interface IQuotaStore
{
    ValueTask<QuotaDecision> TryAdmitAsync(string keyId, QuotaDemand demand, CancellationToken cancellationToken);

    /// <summary>
    /// Releases the ticket's parallel slot and replaces its reservations with what was actually used.
    /// Called exactly once per admitted ticket.
    /// </summary>
    ValueTask SettleAsync(QuotaTicket ticket, long actualTokens, decimal actualCostUsd, CancellationToken cancellationToken);

    QuotaAccountState GetState(string keyId);
}
