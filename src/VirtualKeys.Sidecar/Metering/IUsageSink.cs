namespace VirtualKeys.Sidecar.Metering;

/// <summary>Where usage records go (the registry's usage table, later).</summary>
public interface IUsageSink
{
    /// <summary>
    /// Called by one writer at a time, batches in order. Throwing keeps the batch: the sidecar retries it
    /// with backoff (so a partially written batch comes again: deduplicate on <see cref="UsageRecord.RecordId"/>).
    /// While it keeps failing the buffer fills and new requests are refused with 503. A batch whose
    /// content cannot be stored (not a transient failure) throws <see cref="UsageRecordsRefusedException"/>.
    /// </summary>
    Task WriteAsync(IReadOnlyList<UsageRecord> batch, CancellationToken cancellationToken);
}
