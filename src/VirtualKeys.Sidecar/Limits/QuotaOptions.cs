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
    /// and it no longer counts for outage shares. A replica not heard from for half of it doubts its
    /// own dollar leases, so it must leave room for a heartbeat that comes late (<see cref="MinimumReplicaTtl"/>).
    /// </summary>
    public TimeSpan ReplicaTtl { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>A key without admissions for this long gives its unused leases back.</summary>
    public TimeSpan IdleReturnAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A refill slower than this counts as PostgreSQL being away (the request is then served from the
    /// replica's share), and so does a heartbeat. A pass giving idle keys' leases back gets as long;
    /// what it has not given back by then waits for the next pass.
    /// </summary>
    public TimeSpan RefillTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// <see cref="ReplicaTtl"/> must be more than this. The background loop sends a heartbeat at its
    /// first turn after the presence is <see cref="HeartbeatInterval"/> old; a turn begins at a tick
    /// (<see cref="SharedQuotaStore.MaintenanceTick"/>) or when the previous one ends, which may have
    /// given leases back for up to <see cref="RefillTimeout"/>. The heartbeat then takes up to
    /// <see cref="RefillTimeout"/> to refresh the presence. Until then the presence must stay younger than half
    /// the TTL, or the replica doubts its own dollar leases (and, past the TTL, the others take it for dead).
    /// </summary>
    public TimeSpan MinimumReplicaTtl()
    {
        // In decimal ticks: absurdly long settings must be reported, not overflow a TimeSpan.
        var late = Math.Max(SharedQuotaStore.MaintenanceTick.Ticks, RefillTimeout.Ticks) + (decimal)RefillTimeout.Ticks;
        var ticks = 2m * (HeartbeatInterval.Ticks + late);
        return ticks >= TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)Math.Max(0m, ticks));
    }

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

        var minimumTtl = MinimumReplicaTtl();
        if (ReplicaTtl <= minimumTtl)
        {
            problems.Add(
                $"ReplicaTtl must be more than {minimumTtl:c} (twice the sum of HeartbeatInterval, RefillTimeout, and the longer of RefillTimeout and the "
                + $"{SharedQuotaStore.MaintenanceTick.TotalSeconds} s heartbeat tick), or a live replica whose heartbeat comes late may doubt its own budget leases or be taken for dead");
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
