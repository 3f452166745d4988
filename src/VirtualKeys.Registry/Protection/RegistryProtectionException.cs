namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Encryption at rest refused to go on: the message says what is wrong and where (KEK file path,
/// key, provider), never any key material.
/// </summary>
public sealed class RegistryProtectionException : Exception
{
    public RegistryProtectionException()
    {
    }

    public RegistryProtectionException(string message)
        : base(message)
    {
    }

    public RegistryProtectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RegistryProtectionException(RegistryProtectionFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public RegistryProtectionFailure Failure { get; }
}
