using System.Globalization;

namespace VirtualKeys.Sidecar.Errors;

/// <summary>
/// Every refusal the sidecar gives. Messages say what a person can do about it and never contain a
/// token or credential; client-supplied model names are echoed only when they look harmless.
/// </summary>
internal static class Refusals
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string RateLimit = "rate_limit_error";
    public const string InsufficientQuota = "insufficient_quota";
    public const string Unavailable = "service_unavailable";
    public const string Upstream = "upstream_error";

    public static Refusal MissingApiKey { get; } = new(401, Authentication, "missing_api_key",
        "No virtual key was presented: send it as 'Authorization: Bearer <key>', 'x-api-key', or the virtualKey field.");

    public static Refusal InvalidApiKey { get; } = new(401, Authentication, "invalid_api_key",
        "The virtual key is not valid: it is unknown or revoked.");

    public static Refusal RetiredApiKey { get; } = new(401, Authentication, "invalid_api_key",
        "The virtual key token was rotated and its grace period is over: use the new token from the key's token Secret.");

    public static Refusal KeyExpired { get; } = new(401, Authentication, "key_expired",
        "The virtual key has expired (spec.expiresAt); ask its owner to extend it or issue a new one.");

    public static Refusal KeySuspended { get; } = new(403, Permission, "key_suspended",
        "The virtual key is suspended (spec.suspended); ask its owner to resume it.");

    public static Refusal ModelRequired { get; } = new(400, InvalidRequest, "model_required",
        "No model was requested and the virtual key has no default model.", "model");

    public static Refusal NotReady { get; } = new(503, Unavailable, "not_ready",
        "The sidecar has not loaded its key snapshot yet; retry shortly.", RetryAfter: TimeSpan.FromSeconds(1));

    public static Refusal UsageBufferFull { get; } = new(503, Unavailable, "usage_buffer_full",
        "Usage records cannot be written fast enough, so new requests are refused rather than served unmetered; retry shortly.",
        RetryAfter: TimeSpan.FromSeconds(1));

    public static Refusal UnsupportedMediaType { get; } = new(415, InvalidRequest, "unsupported_media_type",
        "The request body must be JSON: send 'Content-Type: application/json'.");

    public static Refusal EmptyBody { get; } = new(400, InvalidRequest, "invalid_json", "The request body is empty; a JSON object is expected.");

    public static Refusal NotAnObject { get; } = new(400, InvalidRequest, "invalid_json", "The request body must be a JSON object.");

    public static Refusal ForbiddenRemoteCaller { get; } = new(403, Permission, "forbidden_remote_caller",
        "The sidecar only serves callers on the loopback interface.");

    public static Refusal DecisionNotFound { get; } = new(404, InvalidRequest, "decision_not_found",
        "No decision with this id is known: it was never issued by this sidecar or was settled and forgotten long ago.", "decisionId");

    public static Refusal Internal { get; } = new(500, "server_error", "internal_error", "The sidecar failed unexpectedly; the failure was logged.");

    public static Refusal MalformedApiKey(string description) => new(401, Authentication, "invalid_api_key",
        "The presented key is not a virtual key: " + description + ".");

    public static Refusal TooLarge(long limit) => new(413, InvalidRequest, "request_too_large",
        string.Create(CultureInfo.InvariantCulture, $"The request body is larger than the limit of {limit} bytes."));

    public static Refusal InvalidJson(string detail) => new(400, InvalidRequest, "invalid_json", "The request body is not valid JSON for this endpoint: " + detail);

    public static Refusal InvalidValue(string param, string message) => new(400, InvalidRequest, "invalid_value", message, param);

    public static Refusal MissingField(string param) => new(400, InvalidRequest, "missing_field", $"The field '{param}' is required.", param);

    public static Refusal ModelNotAllowed(string model) => new(403, Permission, "model_not_allowed",
        $"The virtual key does not allow the model {Echo(model)} (spec.allowedModels).", "model");

    public static Refusal ModelNotFound(string model) => new(404, InvalidRequest, "model_not_found",
        $"None of the virtual key's providers serves the model {Echo(model)} (spec.providers[].models).", "model");

    public static Refusal NoCompatibleProvider(string model, string route) => new(400, InvalidRequest, "no_compatible_provider",
        $"None of the virtual key's providers for the model {Echo(model)} speaks the API of {route}; use the endpoint of the provider's own API shape.", "model");

    public static Refusal NotFound(string path) => new(404, InvalidRequest, "not_found", $"No endpoint at {Echo(path)}.");

    public static Refusal NotOnMetricsPort(string path) => new(404, InvalidRequest, "not_found",
        $"No endpoint at {Echo(path)} on the metrics port: it serves /metrics, /healthz and /readyz only; the API listens on the sidecar's loopback port.");

    public static Refusal MetricsPortBusy(int limit) => new(503, "server_error", "metrics_port_busy",
        string.Create(CultureInfo.InvariantCulture, $"The metrics port is serving {limit} requests already (Sidecar__MetricsPortMaxRequests); try again."));

    public static Refusal MethodNotAllowed(string method) => new(405, InvalidRequest, "method_not_allowed", $"This endpoint does not accept {Echo(method)}.");

    public static Refusal StatusOnly(int status) => new(status, status >= 500 ? "server_error" : InvalidRequest, "http_" + status.ToString(CultureInfo.InvariantCulture),
        "The request could not be served.");

    public static Refusal RequestsPerMinute(int limit, TimeSpan? retryAfter) => new(429, RateLimit, "rate_limit_rpm",
        string.Create(CultureInfo.InvariantCulture, $"The virtual key's limit of {limit} requests per minute is reached; retry after the Retry-After seconds."),
        RetryAfter: retryAfter);

    public static Refusal TokensPerMinute(long limit, long requested, bool neverFits, TimeSpan? retryAfter) => new(429, RateLimit, "rate_limit_tpm",
        neverFits
            ? string.Create(CultureInfo.InvariantCulture, $"The request's token estimate ({requested}: input estimate plus max output tokens) exceeds the virtual key's limit of {limit} tokens per minute; lower max tokens.")
            : string.Create(CultureInfo.InvariantCulture, $"The virtual key's limit of {limit} tokens per minute is reached; retry after the Retry-After seconds."),
        RetryAfter: retryAfter);

    public static Refusal ParallelRequests(int limit, TimeSpan? retryAfter) => new(429, RateLimit, "rate_limit_parallel",
        string.Create(CultureInfo.InvariantCulture, $"The virtual key already has {limit} requests in flight (its maxParallelRequests); retry when one completes."),
        RetryAfter: retryAfter);

    /// <summary>402 Payment Required: the key's spend for the current budget period reached spec.budget.maxCostUsd.</summary>
    public static Refusal BudgetExhausted(decimal maxCostUsd, string period, TimeSpan? retryAfter) => new(402, InsufficientQuota, "budget_exhausted",
        retryAfter is null
            ? string.Create(CultureInfo.InvariantCulture, $"The virtual key's total budget of {maxCostUsd} USD is spent; ask its owner to raise spec.budget.maxCostUsd.")
            : string.Create(CultureInfo.InvariantCulture, $"The virtual key's {period} budget of {maxCostUsd} USD is spent; it renews at the start of the next period (Retry-After)."),
        RetryAfter: retryAfter);

    public static Refusal UpstreamUnreachable(string provider, string type) => new(502, Upstream, "upstream_unreachable",
        $"Provider '{provider}' ({type}) could not be reached, and no other provider of the key could serve the request.");

    public static Refusal UpstreamTimeout(string provider, string type) => new(504, Upstream, "upstream_timeout",
        $"Provider '{provider}' ({type}) did not answer in time, and no other provider of the key could serve the request.");

    public static Refusal UpstreamFailed(string provider, string type, int status) => new(502, Upstream, "upstream_error",
        string.Create(CultureInfo.InvariantCulture, $"Provider '{provider}' ({type}) answered HTTP {status}, and no other provider of the key could serve the request."));

    public static Refusal UpstreamRejectedCredential(string provider, string type, int status) => new(502, Upstream, "upstream_auth_failed",
        string.Create(CultureInfo.InvariantCulture, $"Provider '{provider}' ({type}) rejected the key's provider credential (HTTP {status}); the key's owner must update the provider Secret."));

    public static Refusal UpstreamRateLimited(string provider, string type, TimeSpan? retryAfter) => new(429, RateLimit, "upstream_rate_limited",
        $"Provider '{provider}' ({type}) is rate limiting, and no other provider of the key could serve the request.", RetryAfter: retryAfter);

    /// <summary>Client input is echoed only when short and not shaped like a token.</summary>
    private static string Echo(string value) =>
        value.Length <= 100 && !value.Contains("vk_", StringComparison.Ordinal) && !value.Contains("sk-", StringComparison.Ordinal)
            ? "'" + value + "'"
            : "(not shown)";
}
