namespace VirtualKeys.Model;

/// <summary>The keys of <c>status.usage.rejections</c>: why the sidecar refused a request.</summary>
public static class RejectionCauses
{
    /// <summary><c>spec.limits.requestsPerMinute</c> was reached.</summary>
    public const string RequestsPerMinute = "rpm";

    /// <summary><c>spec.limits.tokensPerMinute</c> was reached.</summary>
    public const string TokensPerMinute = "tpm";

    /// <summary><c>spec.limits.maxParallelRequests</c> requests were already in flight.</summary>
    public const string Parallel = "parallel";

    /// <summary><c>spec.budget.maxCostUsd</c> was spent for the current period.</summary>
    public const string Budget = "budget";

    public const string Expired = "expired";

    public const string Suspended = "suspended";

    /// <summary>The requested model is not in <c>spec.allowedModels</c> or no provider serves it.</summary>
    public const string ModelNotAllowed = "model";
}
