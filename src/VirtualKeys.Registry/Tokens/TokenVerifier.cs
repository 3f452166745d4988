using System.Security.Cryptography;

namespace VirtualKeys.Registry.Tokens;

/// <summary>
/// Checks a presented token against the stored hashes of its key, in memory: the sidecar does this
/// from its snapshot, the registry from the database.
/// </summary>
public static class TokenVerifier
{
    /// <remarks>
    /// Every stored hash is compared with <see cref="CryptographicOperations.FixedTimeEquals"/>, and
    /// the loop does not stop at a match, so the time taken tells nothing about how much of a guess
    /// was right or which hash it matched.
    /// </remarks>
    public static TokenCheck Verify(VirtualKeyToken token, IEnumerable<StoredTokenHash> storedHashes, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(storedHashes);
        var presented = token.ComputeHash();
        StoredTokenHash? match = null;
        foreach (var stored in storedHashes)
        {
            if (CryptographicOperations.FixedTimeEquals(presented, stored.Hash))
            {
                match = stored;
            }
        }

        return match switch
        {
            null => TokenCheck.Unknown,
            { NotAfter: { } notAfter } when notAfter <= now => TokenCheck.Retired,
            _ => TokenCheck.Accepted,
        };
    }
}
