namespace VirtualKeys.Registry.Tokens;

public enum TokenCheck
{
    Accepted,

    /// <summary>No stored hash matches: a wrong, mistyped or never-issued token.</summary>
    Unknown,

    /// <summary>It matched a token rotated out whose grace period is over: use the new token from the Secret.</summary>
    Retired,
}
