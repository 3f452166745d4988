using System.Text.Json;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime;

/// <summary>The Status object an API server answers a failed request with.</summary>
public static class ApiStatus
{
    /// <summary>The Status in a failed response's body; null when the body holds none (empty, or not JSON).</summary>
    public static V1Status? Read(string? content)
    {
        if (string.IsNullOrWhiteSpace(content))
        {
            return null;
        }

        try
        {
            return KubernetesJson.Deserialize<V1Status>(content);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
