namespace VirtualKeys.Registry.Keys;

/// <summary>The key as stored after a <see cref="VirtualKeyRestriction"/>.</summary>
/// <param name="Changed">False when the stored key already was at least that restricted: nothing was written and no NOTIFY sent.</param>
/// <param name="State">Active or Suspended: what the sidecars serve from now on.</param>
/// <param name="ExpiresAt">The stored expiry: the earlier of the one registered and the one asked for.</param>
public sealed record RestrictionResult(string KeyId, bool Changed, long ChangeVersion, VirtualKeyState State, DateTimeOffset? ExpiresAt);
