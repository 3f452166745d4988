using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.KeyManagement.Internal;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Picks the most recently activated usable key as the default, so a rotation takes effect at once.
/// </summary>
/// <remarks>
/// Data Protection's own resolver keeps using an older key until a new one is two days old, in case
/// other servers have not seen it yet. Here every replica reads the one ring in PostgreSQL, and
/// <see cref="CredentialProtector.Unprotect"/> reloads the ring when it meets a key it does not know,
/// so that wait buys nothing and would make "rotate now" mean "rotate in two days".
/// </remarks>
internal sealed class NewestKeyResolver : IDefaultKeyResolver
{
    /// <summary>Tolerates another replica's clock running a little ahead, as Data Protection does.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    public DefaultKeyResolution ResolveDefaultKeyPolicy(DateTimeOffset now, IEnumerable<IKey> allKeys)
    {
        var keys = allKeys.ToList();
        var defaultKey = keys
            .Where(key => !key.IsRevoked && key.ActivationDate <= now + ClockSkew && key.ExpirationDate > now)
            .OrderByDescending(key => key.ActivationDate)
            .ThenBy(key => key.KeyId)
            .FirstOrDefault(CanEncrypt);

        return new DefaultKeyResolution
        {
            DefaultKey = defaultKey,
            FallbackKey = defaultKey is null
                ? keys.Where(key => !key.IsRevoked).OrderByDescending(key => key.CreationDate).FirstOrDefault(CanEncrypt)
                : null,
            ShouldGenerateNewKey = defaultKey is null,
        };
    }

    /// <summary>A key whose descriptor does not open (it failed the KEK check) cannot protect anything.</summary>
    private static bool CanEncrypt(IKey key)
    {
        try
        {
            return key.CreateEncryptor() is not null;
        }
        catch (Exception ex) when (ex is RegistryProtectionException or System.Security.Cryptography.CryptographicException or InvalidOperationException)
        {
            return false;
        }
    }
}
