using System.Globalization;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>The operator settings a scenario chooses; everything else is the operator's default.</summary>
/// <param name="Resync">Long by default so that recovery has to come from watches and relists, not from a periodic resync.</param>
internal sealed record OperatorKnobs(
    bool LeaderElection = false,
    TimeSpan? LeaseDuration = null,
    TimeSpan? TokenRotationGrace = null,
    TimeSpan? Resync = null,
    int Workers = 2)
{
    public TimeSpan Lease => LeaseDuration ?? TimeSpan.FromSeconds(3);

    public TimeSpan Grace => TokenRotationGrace ?? TimeSpan.FromSeconds(2);

    /// <summary>The environment-variable spelling docs/configuration.md and the chart use.</summary>
    public Dictionary<string, string> ToEnvironment() => new(StringComparer.Ordinal)
    {
        ["Operator__Workers"] = Workers.ToString(CultureInfo.InvariantCulture),
        ["Operator__ResyncInterval"] = (Resync ?? TimeSpan.FromMinutes(10)).ToString("c", CultureInfo.InvariantCulture),
        ["Operator__TokenRotationGrace"] = Grace.ToString("c", CultureInfo.InvariantCulture),
        ["Operator__UsageSyncInterval"] = "00:00:05",
        ["LeaderElection__Enabled"] = LeaderElection ? "true" : "false",
        ["LeaderElection__LeaseNamespace"] = "default",
        ["LeaderElection__LeaseName"] = "virtual-key-operator",
        ["LeaderElection__LeaseDuration"] = Lease.ToString("c", CultureInfo.InvariantCulture),
        ["Logging__LogLevel__Default"] = "Information",
        ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
        ["Logging__LogLevel__System.Net.Http"] = "Warning",
        ["Logging__LogLevel__Npgsql"] = "Warning",
    };
}
