namespace VirtualKeys.Sidecar.Metering;

public enum UsageOutcome
{
    Success,

    /// <summary>The provider failed or the router reported an error; tokens are whatever was reported.</summary>
    UpstreamError,

    /// <summary>Refused by the sidecar; <see cref="UsageRecord.Count"/> aggregates refusals of one cause.</summary>
    Rejected,

    /// <summary>A resolve decision never reported; settled at its estimate.</summary>
    Expired,

    /// <summary>The client went away before the response completed.</summary>
    Cancelled,
}
