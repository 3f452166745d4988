namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

/// <summary>The tokens the hostile requests use (raw: tracked by the ledger, never printed).</summary>
/// <param name="Valid">A working token, so a case can get past authentication to its real target.</param>
/// <param name="Unknown">Well-formed, never issued.</param>
/// <param name="WrongSecret">The valid token's key id with another secret.</param>
internal sealed record CorpusKeys(string Valid, string Unknown, string WrongSecret);
