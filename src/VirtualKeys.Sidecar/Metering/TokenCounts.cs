namespace VirtualKeys.Sidecar.Metering;

/// <summary>Bounds on the token counts the sidecar takes from clients and providers.</summary>
internal static class TokenCounts
{
    /// <summary>
    /// The largest plausible count: far beyond any model's context or output, and far from what the
    /// registry's bigint totals could not add up. A client's larger estimate or limit is refused; a
    /// provider's larger report is counted as this much, so one bad number cannot stop usage writes.
    /// </summary>
    public const long Max = 100_000_000;
}
