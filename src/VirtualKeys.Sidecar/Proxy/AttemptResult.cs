namespace VirtualKeys.Sidecar.Proxy;

internal enum AttemptResult
{
    /// <summary>No answer: connection refused or reset, DNS, TLS, timeout, or a body that broke off before its first byte reached the client.</summary>
    NoResponse,

    /// <summary>429 or 5xx: another provider may do better.</summary>
    Retryable,

    /// <summary>401 or 403: the provider refused the key's real credential.</summary>
    CredentialRejected,

    /// <summary>The response is being relayed to the client.</summary>
    Forwarded,
}
