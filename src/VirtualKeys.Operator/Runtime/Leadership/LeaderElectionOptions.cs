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

    /// <summary>
    /// The longest the replicas go without a leader when the leader dies: a standby holds the lease
    /// at most this long after the leader's last renewal. See <see cref="StandbyWait"/>.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps trying to renew before it gives up leading; its attempts start one retry period after its last renewal.</summary>
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Pause between attempts to acquire or renew.</summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a standby waits, after it saw the lease change, before it takes the lease: the lease
    /// duration less three retry periods, in whole seconds, because the Lease records it that way
    /// (<c>leaseDurationSeconds</c>) and KubernetesClient's elector, like client-go's, waits what the
    /// record says. A standby sees a renewal up to one retry period after it was written and tries
    /// again only every retry period, so it holds the lease at most two retry periods after this wait
    /// ends: within <see cref="LeaseDuration"/> of the leader's last renewal.
    /// <para>
    /// A leader that cannot renew stops leading one retry period plus the renew deadline after the
    /// answer to its last renewal, and that answer comes at most one renew deadline after the renewal
    /// was written; <see cref="Validate"/> keeps the sum shorter than this wait, so two replicas never
    /// lead at once, however slowly the API server answers. The standby counts from what it observed,
    /// so clocks need not agree; KubernetesClient reads the wall clock for it, so a clock stepped
    /// forward on a standby's node shortens its wait by the step.
    /// </para>
    /// </summary>
    public TimeSpan StandbyWait => TimeSpan.FromSeconds(Math.Floor((LeaseDuration - (3 * RetryPeriod)).TotalSeconds));

    /// <summary>
    /// The timings for a lease duration of at least 3 s: retries every 1/15 of it (1 s of 15 s, half
    /// of client-go's), so a standby waits 4/5 of it (12 s of 15 s); the leader gives up renewing
    /// after a third of it (5 s), less where whole seconds shorten the standby's wait, so that one
    /// retry period and two renew deadlines stay at least 1/30 of the lease short of that wait.
    /// </summary>
    public static LeaderElectionOptions ForLease(TimeSpan leaseDuration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(leaseDuration, TimeSpan.FromSeconds(3));
        var options = new LeaderElectionOptions { LeaseDuration = leaseDuration, RetryPeriod = leaseDuration / 15 };
        var latest = ((options.StandbyWait - options.RetryPeriod) / 2) - (leaseDuration / 30);
        options.RenewDeadline = latest < leaseDuration / 3 ? latest : leaseDuration / 3;
        return options;
    }

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
        if (RenewDeadline <= RetryPeriod || RetryPeriod + (2 * RenewDeadline) >= StandbyWait || StandbyWait < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException(
                $"Leader election needs RetryPeriod ({RetryPeriod}) < RenewDeadline ({RenewDeadline}) and RetryPeriod + 2 x RenewDeadline < "
                + $"the standby's wait ({StandbyWait}: LeaseDuration less 3 x RetryPeriod, in whole seconds), and that at least 1 s: a leader that cannot renew must stop "
                + "leading before a standby may take over.");
        }
    }

    private static string DefaultIdentity()
    {
        var host = Environment.GetEnvironmentVariable("HOSTNAME");
        return $"{(string.IsNullOrWhiteSpace(host) ? Environment.MachineName : host)}_{Guid.NewGuid().ToString("N")[..8]}";
    }
}
