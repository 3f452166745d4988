using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using VirtualKeys.Sidecar.Snapshot;
using Yarp.ReverseProxy.Forwarder;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// The YARP transform for one proxied request, reused across its failover attempts. It swaps the
/// client's credentials for the provider's, and it holds back every response that should fail over
/// (429, 5xx, 401/403) by declining to copy it: YARP then leaves the client response untouched, so
/// the next provider can still answer.
/// </summary>
internal sealed class ProxyAttempt : HttpTransformer
{
    /// <summary>Client credentials and caller-account headers never reach the provider; hop-by-hop headers are per connection.</summary>
    private static readonly FrozenSet<string> DroppedRequestHeaders = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Authorization", "x-api-key", "api-key", "x-goog-api-key", "Proxy-Authorization", "Cookie",
        "OpenAI-Organization", "OpenAI-Project",
        "Host", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Expect",
        "Accept-Encoding");

    /// <summary>Headers that would tell the client about the provider account behind its virtual key.</summary>
    private static readonly string[] DroppedResponseHeaders = ["openai-organization", "openai-project", "anthropic-organization-id", "Set-Cookie"];

    private readonly UsageScanner _scanner;
    private ServingProvider? _provider;
    private Uri? _target;

    public ProxyAttempt(UsageScanner scanner)
    {
        _scanner = scanner;
    }

    public AttemptResult Result { get; private set; }

    public int UpstreamStatus { get; private set; }

    public TimeSpan? RetryAfter { get; private set; }

    public void Prepare(ServingProvider provider, Uri target)
    {
        _provider = provider;
        _target = target;
        Result = AttemptResult.NoResponse;
        UpstreamStatus = 0;
        RetryAfter = null;
    }

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        var provider = _provider!;
        var anthropicVersionSent = false;
        foreach (var (name, value) in httpContext.Request.Headers)
        {
            if (DroppedRequestHeaders.Contains(name))
            {
                continue;
            }

            anthropicVersionSent |= name.Equals("anthropic-version", StringComparison.OrdinalIgnoreCase);
            Add(proxyRequest, name, value);
        }

        proxyRequest.Headers.TryAddWithoutValidation(provider.AuthHeaderName, provider.AuthHeaderValue);
        if (provider.Type == ProviderType.Anthropic && !anthropicVersionSent)
        {
            proxyRequest.Headers.TryAddWithoutValidation("anthropic-version", ServingProvider.DefaultAnthropicVersion);
        }

        proxyRequest.RequestUri = _target;
        return default;
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is null)
        {
            Result = AttemptResult.NoResponse;
            return false;
        }

        var status = (int)proxyResponse.StatusCode;
        UpstreamStatus = status;
        if (status == StatusCodes.Status429TooManyRequests || status >= 500)
        {
            Result = AttemptResult.Retryable;
            RetryAfter = proxyResponse.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - DateTimeOffset.UtcNow,
                _ => null,
            };
            return false;
        }

        if (status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
        {
            Result = AttemptResult.CredentialRejected;
            return false;
        }

        await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        foreach (var name in DroppedResponseHeaders)
        {
            httpContext.Response.Headers.Remove(name);
        }

        if (status is >= 200 and < 300)
        {
            proxyResponse.Content = new UsageTapContent(proxyResponse.Content, _scanner);
        }

        Result = AttemptResult.Forwarded;
        return true;
    }

    private static void Add(HttpRequestMessage request, string name, StringValues value)
    {
        if (value.Count == 1)
        {
            var single = value.ToString();
            if (!request.Headers.TryAddWithoutValidation(name, single))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, single);
            }
        }
        else if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value))
        {
            request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value);
        }
    }
}
