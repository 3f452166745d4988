namespace VirtualKeys.Registry.Keys;

public enum VirtualKeyState
{
    Active,

    /// <summary>spec.suspended: tokens are known but requests are refused.</summary>
    Suspended,

    /// <summary>The resource was deleted: tokens are refused for good; usage history stays.</summary>
    Tombstoned,
}
