using System.Globalization;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>Bound from the "Quota" configuration section; validated once at start-up.</summary>
public sealed class QuotaOptions
{
    public const string SectionName = "Quota";

    /// <summary><see cref="QuotaMode.Shared"/> whenever a registry is configured; <see cref="QuotaMode.Local"/> for a single replica.</summary>
    public QuotaMode Mode { get; set; } = QuotaMode.Shared;

    /// <summary>This replica's name in the shared counters; empty picks the host name plus a random suffix (unique per process).</summary>
    public string? ReplicaId { get; set; }

    /// <summary>
    /// The smallest lease, as a fraction of the limit (at least one request, at least the request's own
    /// need): 0.05 leases a 600 RPM key at least 30 requests at a time. A busy key gets larger leases
    /// (<see cref="LeaseHorizon"/>).
    /// </summary>
    public double LeaseFraction { get; set; } = 0.05;

    /// <summary>
    /// A refill asks for what this replica's demand for the key (requests and tokens offered in the last
    /// second, refused ones included) would use in this long, at least a <see cref="LeaseFraction"/>
    /// block and at most the replica's fair share (the limit divided by the live replicas). Longer
    /// means fewer round trips; a lease a replica stops using goes back after <see cref="IdleReturnAfter"/>.
    /// </summary>
    public TimeSpan LeaseHorizon { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often a replica that needs to be known alive (it admitted a limited key within <see cref="ReplicaTtl"/>,
    /// holds parallel slots, or cannot reach PostgreSQL) reports itself and counts the live replicas.
    /// A replica serving only unlimited keys sends none.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A replica not heard from for this long is dead: the parallel slots it held stop counting (a
    /// crashed replica's slots are unusable this long; a replica that stops cleanly frees them at once)
    /// and it no longer counts for outage shares.
    /// </summary>
    public TimeSpan ReplicaTtl { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>A key without admissions for this long gives its unused leases back.</summary>
    public TimeSpan IdleReturnAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A refill slower than this counts as PostgreSQL being away (the request is then served from the replica's share).</summary>
    public TimeSpan RefillTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The configured replica id, or a fresh unique one.</summary>
    public string ResolveReplicaId() =>
        string.IsNullOrWhiteSpace(ReplicaId)
            ? string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}")
            : ReplicaId.Trim();

    public void Validate()
    {
        var problems = new List<string>();
        if (!Enum.IsDefined(Mode))
        {
            problems.Add($"Mode '{Mode}' is not Shared or Local");
        }

        if (!(LeaseFraction > 0 && LeaseFraction <= 1))
        {
            problems.Add("LeaseFraction must be above 0 and at most 1");
        }

        if (LeaseHorizon < TimeSpan.Zero)
        {
            problems.Add("LeaseHorizon must not be negative");
        }

        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            problems.Add("HeartbeatInterval must be positive");
        }

        if (ReplicaTtl <= HeartbeatInterval * 2)
        {
            problems.Add("ReplicaTtl must be more than twice HeartbeatInterval, or a live replica may be taken for dead");
        }

        if (IdleReturnAfter <= TimeSpan.Zero || RefillTimeout <= TimeSpan.Zero)
        {
            problems.Add("IdleReturnAfter and RefillTimeout must be positive");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid quota options (section Quota): " + string.Join("; ", problems) + ".");
        }
    }
}
