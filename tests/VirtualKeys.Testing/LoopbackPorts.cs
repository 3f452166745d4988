namespace VirtualKeys.Testing;

public static class LoopbackPorts
{
    /// <summary>
    /// A loopback port nothing listens on right now, below the ephemeral range so that no server the
    /// tests start on port 0 takes it before it is used (<see cref="VirtualKeys.LocalPostgres.UnclaimedPort"/>).
    /// </summary>
    public static int Free() => VirtualKeys.LocalPostgres.UnclaimedPort.Pick();
}
