namespace VirtualKeys.Registry.Keys;

/// <summary>
/// What may still reach a stored key while its resource cannot be registered whole (a provider
/// Secret missing, a spec that does not validate): only what takes something away. Everything else
/// stays as last registered, credentials included, until the next <see cref="VirtualKeyUpsert"/>.
/// </summary>
/// <param name="Suspend">True suspends the key; false leaves its state as stored: a restriction never resumes a key.</param>
/// <param name="ExpiresAt">Taken when earlier than the stored expiry, or when none is stored; a later one or null leaves it.</param>
/// <param name="Tokens">
/// Token changes, as in an upsert: a rotation replaces the token and retires the others, which
/// takes the old token away without giving the key anything more. Null for none.
/// </param>
public sealed record VirtualKeyRestriction(
    VirtualKeyIdentity Identity,
    bool Suspend,
    DateTimeOffset? ExpiresAt,
    TokenChanges? Tokens = null);
