namespace VirtualKeys.Registry.Quotas;

/// <summary>A lease asked of a key's per-minute counter (requests or tokens).</summary>
/// <param name="Cap">The key's limit per minute.</param>
/// <param name="Want">How much to lease; less (or nothing) is granted when the window is nearly used up.</param>
/// <param name="Charge">Use already made without a lease (beyond it, or while PostgreSQL was away), added unconditionally.</param>
public readonly record struct QuotaWindowAsk(long Cap, long Want, long Charge = 0);
