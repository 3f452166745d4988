namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>A non-GET request one operator instance sent, when it was sent and what the API server answered.</summary>
internal sealed record AuditedWrite(DateTimeOffset SentAt, string Method, string Path, int StatusCode)
{
    /// <summary>Leader election's own traffic: the only writes a standby is allowed to make.</summary>
    public bool IsLease => Path.Contains("/leases", StringComparison.Ordinal);
}
