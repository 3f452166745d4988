namespace VirtualKeys.Registry.Tokens;

/// <summary>A token as the registry knows it: its SHA-256 hash and, once rotated out, the end of its grace period.</summary>
public sealed record StoredTokenHash(byte[] Hash, DateTimeOffset CreatedAt, DateTimeOffset? NotAfter);
