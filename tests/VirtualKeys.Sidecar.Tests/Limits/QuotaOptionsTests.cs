using VirtualKeys.Sidecar.Limits;

namespace VirtualKeys.Sidecar.Tests.Limits;

/// <summary>The start-up check of the "Quota" section: how long a replica's presence may be silent.</summary>
public sealed class QuotaOptionsTests
{
    [Fact]
    public void The_defaults_are_valid()
    {
        var error = Record.Exception(new QuotaOptions().Validate);

        Assert.Null(error);
    }

    /// <summary>
    /// A heartbeat is sent at the first tick of the background loop (1 s) after it is due, or after a
    /// pass giving idle leases back (at most <c>RefillTimeout</c>) if that is longer, and takes up to
    /// <c>RefillTimeout</c>: the presence must stay younger than half the TTL through all of that.
    /// </summary>
    [Theory]
    [InlineData(30, 2.0, 61, "00:01:08")]
    [InlineData(30, 2.0, 68, "00:01:08")]
    [InlineData(10, 5.0, 39, "00:00:40")]
    [InlineData(10, 0.5, 23, "00:00:23")]
    public void A_replica_ttl_that_leaves_a_late_heartbeat_no_margin_is_refused(int heartbeatSeconds, double refillTimeoutSeconds, int ttlSeconds, string minimum)
    {
        var options = new QuotaOptions
        {
            HeartbeatInterval = TimeSpan.FromSeconds(heartbeatSeconds),
            RefillTimeout = TimeSpan.FromSeconds(refillTimeoutSeconds),
            ReplicaTtl = TimeSpan.FromSeconds(ttlSeconds),
        };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains($"ReplicaTtl must be more than {minimum}", error.Message, StringComparison.Ordinal);
        Assert.Contains("HeartbeatInterval", error.Message, StringComparison.Ordinal);
        Assert.Contains("RefillTimeout", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(30, 2.0, 69)]
    [InlineData(10, 5.0, 41)]
    [InlineData(10, 0.5, 24)]
    public void A_replica_ttl_just_above_the_margin_is_accepted(int heartbeatSeconds, double refillTimeoutSeconds, int ttlSeconds)
    {
        var options = new QuotaOptions
        {
            HeartbeatInterval = TimeSpan.FromSeconds(heartbeatSeconds),
            RefillTimeout = TimeSpan.FromSeconds(refillTimeoutSeconds),
            ReplicaTtl = TimeSpan.FromSeconds(ttlSeconds),
        };

        var error = Record.Exception(options.Validate);

        Assert.Null(error);
    }
}
