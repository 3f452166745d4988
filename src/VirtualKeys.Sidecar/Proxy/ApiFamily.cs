namespace VirtualKeys.Sidecar.Proxy;

/// <summary>The request shape a client speaks; the proxy forwards only to providers that speak it too.</summary>
internal enum ApiFamily
{
    OpenAI,
    Anthropic,
}
