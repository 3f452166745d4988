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
    /// A lease is this fraction of the limit (at least one request, at least the request's own need):
    /// 0.05 turns a 600 RPM key into about 20 grants a minute. Smaller means more round trips; larger
    /// means more of a window idles in one replica's lease while others are refused.
    /// </summary>
    public double LeaseFraction { get; set; } = 0.05;

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A replica not heard from for this long is dead: its parallel slots are freed and it no longer counts for shares.</summary>
    public TimeSpan ReplicaTtl { get; set; } = TimeSpan.FromSeconds(20);

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
