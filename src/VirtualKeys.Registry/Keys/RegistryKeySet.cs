namespace VirtualKeys.Registry.Keys;

/// <summary>Keys read in one consistent snapshot.</summary>
/// <param name="ChangeVersion">
/// The registry's change version as of that snapshot: pass it to
/// <see cref="VirtualKeyRegistry.ListChangedSinceAsync"/> next time to get only what changed after.
/// </param>
public sealed record RegistryKeySet(long ChangeVersion, IReadOnlyList<VirtualKeyRecord> Keys);
