namespace VirtualKeys.Registry.Keys;

/// <summary>Everything the registry stores for a key, written in one transaction.</summary>
/// <param name="Generation">metadata.generation of the resource this was resolved from.</param>
/// <param name="SpecFingerprint">
/// The caller's digest of everything that shaped this key (spec, referenced Secrets' versions):
/// a change in it alone counts as a change.
/// </param>
/// <param name="Credentials">Raw provider keys, exactly one per provider in <see cref="VirtualKeyConfig.Providers"/>; encrypted before they are written.</param>
/// <param name="Tokens">Token changes; null for none.</param>
public sealed record VirtualKeyUpsert(
    VirtualKeyIdentity Identity,
    long Generation,
    string SpecFingerprint,
    VirtualKeyConfig Config,
    IReadOnlyList<ProviderCredential> Credentials,
    TokenChanges? Tokens = null);
