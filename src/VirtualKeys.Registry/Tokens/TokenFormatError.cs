namespace VirtualKeys.Registry.Tokens;

/// <summary>Why a presented string is not a virtual-key token, for a refusal a person can act on.</summary>
public enum TokenFormatError
{
    None,
    Empty,

    /// <summary>Does not start with <c>vk_</c>: perhaps a raw provider key was sent instead.</summary>
    WrongPrefix,
    WrongLength,
    BadKeyId,
    BadSecret,
}
