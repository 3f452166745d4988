namespace VirtualKeys.Registry.Protection;

/// <summary>What one <see cref="KekReplacement"/> run did; a rerun after a complete one re-wraps nothing.</summary>
/// <param name="NewKekId">The one-way id of the KEK every ring element is sealed under now.</param>
/// <param name="Rewrapped">Ring elements moved from the old KEK to the new one by this run.</param>
/// <param name="AlreadyUnderNewKek">Ring elements that were already sealed under the new KEK (written by a replica that runs with it, or by an earlier run).</param>
/// <param name="FingerprintsUpdated">Credential fingerprints re-computed under the new KEK.</param>
/// <param name="Credentials">Credentials checked (each one was decrypted to re-compute its fingerprint).</param>
public sealed record KekReplacementResult(string NewKekId, int Rewrapped, int AlreadyUnderNewKek, int FingerprintsUpdated, int Credentials);
