namespace VirtualKeys.Registry.Keys;

/// <param name="Changed">False when the stored key already matched: nothing was written and no NOTIFY sent.</param>
/// <param name="ChangeVersion">The key's change version after the call.</param>
/// <param name="State">Tombstoned when the upsert named a key already deleted; it stays deleted.</param>
public sealed record UpsertResult(string KeyId, bool Changed, long ChangeVersion, VirtualKeyState State);
