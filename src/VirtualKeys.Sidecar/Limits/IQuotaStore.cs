namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// Per-key counters behind RPM, TPM, parallelism and budgets. Admission checks and charges every
/// dimension at once, so a request refused on one limit never holds another.
/// </summary>
/// <remarks>
/// <see cref="LocalQuotaStore"/> is exact for one replica. <see cref="SharedQuotaStore"/> holds the limits
/// across replicas by carving leases (blocks of requests, tokens, dollars and parallel slots) from counters
/// in the registry and admitting locally from them: the methods return <see cref="ValueTask"/> so a lease
/// refill may go to the network, while the common path completes synchronously without allocating.
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
