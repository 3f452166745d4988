namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// The arguments of one watch call: <paramref name="Namespace"/> null for all namespaces;
/// <paramref name="OnError"/> to pass to KubernetesClient's <c>onError</c>.
/// </summary>
public sealed record WatchRequest(
    string? Namespace,
    string ResourceVersion,
    int TimeoutSeconds,
    Action<Exception> OnError,
    CancellationToken CancellationToken);
