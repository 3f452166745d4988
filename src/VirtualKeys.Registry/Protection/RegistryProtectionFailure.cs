namespace VirtualKeys.Registry.Protection;

public enum RegistryProtectionFailure
{
    /// <summary>The KEK file is missing, unreadable, or does not hold 32 base64-encoded bytes.</summary>
    KeyEncryptionKeyUnavailable,

    /// <summary>The key ring was encrypted under another KEK than the one loaded.</summary>
    WrongKeyEncryptionKey,

    /// <summary>Ciphertext (a credential or a key ring element) failed its integrity check.</summary>
    Tampered,

    /// <summary>The ciphertext names a Data Protection key the ring does not hold.</summary>
    KeyNotInRing,
}
