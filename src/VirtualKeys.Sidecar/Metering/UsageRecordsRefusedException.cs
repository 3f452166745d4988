namespace VirtualKeys.Sidecar.Metering;

/// <summary>
/// The sink refuses what a batch holds, not for want of a connection: the same batch sent again would
/// be refused again. The sidecar then writes the batch in parts to find the records refused, writes
/// the rest, and logs and counts each refused record instead of retrying it forever (which would stop
/// every usage write behind it and, once the buffer is full, every request).
/// </summary>
public sealed class UsageRecordsRefusedException(string message, Exception? innerException = null)
    : Exception(message, innerException);
