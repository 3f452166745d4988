using System.Net;
using System.Text.RegularExpressions;
using k8s.Autorest;
using VirtualKeys.Operator.Runtime;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// The API server refused a call on a token Secret for a reason a retry alone does not cure: 403
/// (RBAC missing in that namespace, a namespace being deleted, an admission policy), 422 (a policy
/// finds the Secret invalid), 400 and the like. Its message names the Secret, the HTTP status with
/// the API server's reason, and the API server's own message, which says what to change; it
/// becomes the Ready condition's message, so it never carries a token.
/// </summary>
public sealed partial class TokenSecretRefusedException : Exception
{
    /// <summary>Enough for any message of the API server's own; an admission webhook may say more.</summary>
    private const int MaxServerMessageLength = 1024;

    public TokenSecretRefusedException()
    {
    }

    public TokenSecretRefusedException(string message)
        : base(message)
    {
    }

    public TokenSecretRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// A 4xx that stays until someone changes something. Not among them: 404 (the Secret went
    /// meanwhile: the next reconcile sees that), 408, 409 (a stale copy, or a Secret that exists
    /// after all: the next reconcile reads it) and 429, which pass by themselves.
    /// </summary>
    public static bool IsRefusal(Exception e) =>
        e is HttpOperationException { Response.StatusCode: var code }
        && (int)code is >= 400 and < 500
        && code is not (HttpStatusCode.NotFound or HttpStatusCode.RequestTimeout or HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests);

    /// <param name="verb">What was refused: create, read, update or patch.</param>
    public static TokenSecretRefusedException From(HttpOperationException e, string verb, string @namespace, string name)
    {
        ArgumentNullException.ThrowIfNull(e);
        var code = (int)e.Response.StatusCode;
        var status = ApiStatus.Read(e.Response.Content);
        var reason = status?.Reason is { Length: > 0 } r ? r : e.Response.ReasonPhrase ?? e.Response.StatusCode.ToString();
        var said = status?.Message is { Length: > 0 } m ? ": " + Scrub(m) : "";
        return new TokenSecretRefusedException(
            $"The API server refused to {verb} token Secret {@namespace}/{name}: {code} {reason}{said}; the operator retries with backoff",
            e);
    }

    /// <summary>
    /// What a webhook or a future API server might echo of the request, cut out: a token, or its
    /// data in base64, is one long run of these characters; names, paths and sentences are not.
    /// </summary>
    private static string Scrub(string message)
    {
        var scrubbed = LongRun().Replace(message, "[redacted]");
        return scrubbed.Length <= MaxServerMessageLength ? scrubbed : scrubbed[..MaxServerMessageLength] + "...";
    }

    [GeneratedRegex("[0-9A-Za-z_+/=]{40,}")]
    private static partial Regex LongRun();
}
