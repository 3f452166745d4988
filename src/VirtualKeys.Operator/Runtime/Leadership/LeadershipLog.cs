using Microsoft.Extensions.Logging;

namespace VirtualKeys.Operator.Runtime.Leadership;

internal static partial class LeadershipLog
{
    [LoggerMessage(3000, LogLevel.Information, "{Identity} is campaigning for lease {LeaseNamespace}/{LeaseName}")]
    public static partial void Campaigning(ILogger logger, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3001, LogLevel.Information, "{Identity} now leads on lease {LeaseNamespace}/{LeaseName}")]
    public static partial void StartedLeading(ILogger logger, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3002, LogLevel.Warning, "{Identity} lost lease {LeaseNamespace}/{LeaseName}; reconciling stopped")]
    public static partial void LostLease(ILogger logger, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3003, LogLevel.Information, "{Identity} stopped leading on lease {LeaseNamespace}/{LeaseName}")]
    public static partial void StoppedLeading(ILogger logger, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3004, LogLevel.Information, "Lease {LeaseNamespace}/{LeaseName} is held by {Leader}")]
    public static partial void NewLeader(ILogger logger, string leaseNamespace, string leaseName, string leader);

    [LoggerMessage(3005, LogLevel.Debug, "Leader election on lease {LeaseNamespace}/{LeaseName} hit an error")]
    public static partial void ElectionError(ILogger logger, Exception exception, string leaseNamespace, string leaseName);

    [LoggerMessage(3006, LogLevel.Information, "{Identity} released lease {LeaseNamespace}/{LeaseName}")]
    public static partial void Released(ILogger logger, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3007, LogLevel.Warning, "{Identity} could not release lease {LeaseNamespace}/{LeaseName}; standbys take over when it expires")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3008, LogLevel.Error, "The leading work of {Identity} on lease {LeaseNamespace}/{LeaseName} failed")]
    public static partial void LeadingFailed(ILogger logger, Exception exception, string identity, string leaseNamespace, string leaseName);

    [LoggerMessage(3009, LogLevel.Information, "Leader election is off: {Identity} leads")]
    public static partial void ElectionDisabled(ILogger logger, string identity);
}
