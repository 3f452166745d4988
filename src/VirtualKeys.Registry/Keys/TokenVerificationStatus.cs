namespace VirtualKeys.Registry.Keys;

public enum TokenVerificationStatus
{
    Accepted,
    Malformed,

    /// <summary>The key id in the token names no key.</summary>
    UnknownKey,

    /// <summary>The key was deleted.</summary>
    KeyDeleted,

    /// <summary>The key exists but the secret matches none of its tokens.</summary>
    WrongSecret,

    /// <summary>A rotated-out token whose grace period is over.</summary>
    Retired,
}
