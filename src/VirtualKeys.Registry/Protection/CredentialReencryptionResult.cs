namespace VirtualKeys.Registry.Protection;

/// <summary>What one <see cref="CredentialReencryption"/> run did.</summary>
/// <param name="TargetKeyId">The ring key credentials are protected with now.</param>
/// <param name="Reencrypted">Credentials this run moved to <paramref name="TargetKeyId"/>.</param>
/// <param name="AlreadyCurrent">Credentials that were already under it (an earlier, interrupted run, or written since the rotation).</param>
/// <param name="ChangedMeanwhile">Credentials the operator rewrote while this run was at them; the operator's write stands (it used the newest key too).</param>
public sealed record CredentialReencryptionResult(Guid TargetKeyId, int Reencrypted, int AlreadyCurrent, int ChangedMeanwhile);
