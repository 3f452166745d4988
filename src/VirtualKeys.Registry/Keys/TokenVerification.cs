using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Registry.Keys;

/// <param name="State">The key's state when it was found: an accepted token of a suspended key is still refused by the caller.</param>
public sealed record TokenVerification(
    TokenVerificationStatus Status,
    string? KeyId = null,
    VirtualKeyIdentity? Identity = null,
    VirtualKeyState? State = null,
    TokenFormatError FormatError = TokenFormatError.None);
