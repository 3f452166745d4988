namespace VirtualKeys.Sidecar.Hosting;

internal static class SidecarServiceKeys
{
    /// <summary>
    /// The sidecar's own clock, keyed so that a test's FakeTimeProvider drives windows, budgets and
    /// expiry without also driving Kestrel's and the upstream client's network timeouts.
    /// </summary>
    public const string Clock = "VirtualKeys.Sidecar.Clock";
}
