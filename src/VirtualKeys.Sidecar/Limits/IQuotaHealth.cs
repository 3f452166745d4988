namespace VirtualKeys.Sidecar.Limits;

/// <summary>A quota store that depends on something that can fail (the shared store's PostgreSQL).</summary>
public interface IQuotaHealth
{
    QuotaHealth Health { get; }
}
