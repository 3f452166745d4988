namespace VirtualKeys.Operator.Runtime.Leadership;

/// <summary>
/// Where and how replicas elect the one that reconciles. The lease is a coordination.k8s.io/v1
/// Lease; KubernetesClient's elector counts lease time in whole seconds.
/// </summary>
public sealed class LeaderElectionOptions
{
    /// <summary>Off: this process always leads (one replica, local development, tests).</summary>
    public bool Enabled { get; set; } = true;

    public string LeaseName { get; set; } = "virtual-key-operator";

    public string LeaseNamespace { get; set; } = "default";

    /// <summary>Must differ per replica; the pod name (HOSTNAME) plus a random suffix by default, so a restarted pod does not inherit its predecessor's term.</summary>
    public string Identity { get; set; } = DefaultIdentity();

    /// <summary>How long a standby waits, after it last saw the lease change, before it takes over.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps trying to renew before it gives up leading.</summary>
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Pause between attempts to acquire or renew.</summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(LeaseName);
        ArgumentException.ThrowIfNullOrWhiteSpace(LeaseNamespace);
        ArgumentException.ThrowIfNullOrWhiteSpace(Identity);
        ArgumentOutOfRangeException.ThrowIfLessThan(LeaseDuration, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryPeriod, TimeSpan.Zero);
        if (RenewDeadline >= LeaseDuration || RenewDeadline <= RetryPeriod)
        {
            throw new ArgumentException(
                $"Leader election needs RetryPeriod ({RetryPeriod}) < RenewDeadline ({RenewDeadline}) < LeaseDuration ({LeaseDuration}).");
        }
    }

    private static string DefaultIdentity()
    {
        var host = Environment.GetEnvironmentVariable("HOSTNAME");
        return $"{(string.IsNullOrWhiteSpace(host) ? Environment.MachineName : host)}_{Guid.NewGuid().ToString("N")[..8]}";
    }
}
