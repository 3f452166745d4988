using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Registry.Keys;

/// <summary>A key as stored.</summary>
/// <param name="Credentials">Decrypted provider keys by provider name, when they were asked for; null otherwise.</param>
/// <param name="Tokens">The hashes of the key's tokens, for in-memory verification with <see cref="TokenVerifier"/>.</param>
public sealed record VirtualKeyRecord(
    VirtualKeyIdentity Identity,
    string KeyId,
    long Generation,
    VirtualKeyState State,
    string SpecFingerprint,
    VirtualKeyConfig Config,
    long ChangeVersion,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? TombstonedAt,
    IReadOnlyList<StoredTokenHash> Tokens,
    IReadOnlyDictionary<string, ProviderCredential>? Credentials);
