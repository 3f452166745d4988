using System.Text.Json.Serialization;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>A namespace whose first list an informer has not cached yet, and why, if a list failed.</summary>
/// <param name="Kind">What the informer caches, e.g. <c>secrets</c>.</param>
/// <param name="Namespace">The namespace listed; null when the informer lists every namespace at once.</param>
/// <param name="LastError">The last list's failure as the API server described it; null while the first list is still under way.</param>
public sealed record UnsyncedScope(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("namespace")] string? Namespace,
    [property: JsonPropertyName("lastError")] string? LastError);
