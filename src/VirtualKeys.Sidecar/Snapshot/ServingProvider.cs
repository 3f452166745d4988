using System.Collections.Concurrent;
using System.Collections.Frozen;
using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Resolve;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// A provider prepared for the request path: auth header strings, endpoint URIs and the resolve answer
/// are built once per snapshot change, not per request.
/// </summary>
internal sealed class ServingProvider
{
    public const string DefaultAnthropicVersion = "2023-06-01";
    public const string DefaultAzureApiVersion = "2024-10-21";
    private const int MaxCachedModels = 256;

    private static readonly Uri?[] NoRouteUris = new Uri?[ProxyRoute.All.Count];

    private readonly FrozenSet<string>? _models;
    private readonly Uri?[] _routeUris;
    private readonly ConcurrentDictionary<string, ProviderInfo>? _azureInfos;
    private readonly ConcurrentDictionary<(int Route, string Model), Uri>? _azureUris;
    private readonly ProviderInfo? _info;
    private Uri? _azureResponsesUri;

    private ServingProvider(ProviderEntry entry, string baseUrl, SnapshotInterner? interner)
    {
        Entry = entry;
        BaseUrl = baseUrl;
        TypeName = entry.Type.ToString();
        _models = interner is not null ? interner.ModelSet(entry.Models)
            : entry.Models.Count == 0 ? null
            : entry.Models.ToFrozenSet(StringComparer.Ordinal);
        (AuthHeaderName, AuthHeaderValue) = entry.Type switch
        {
            ProviderType.AzureOpenAI => ("api-key", entry.Credential),
            ProviderType.Anthropic => ("x-api-key", entry.Credential),
            ProviderType.Gemini => ("x-goog-api-key", entry.Credential),
            _ => ("Authorization", "Bearer " + entry.Credential),
        };
        Family = FamilyOf(entry.Type);
        ApiVersion = entry.Type == ProviderType.AzureOpenAI ? entry.AzureApiVersion ?? DefaultAzureApiVersion : null;

        if (entry.Type == ProviderType.AzureOpenAI)
        {
            _routeUris = NoRouteUris;
            _azureInfos = new(StringComparer.Ordinal);
            _azureUris = new();
        }
        else
        {
            _routeUris = interner?.RouteUris(baseUrl, entry.Type) ?? CreateRouteUris(baseUrl, entry.Type);
            _info = CreateInfo(baseUrl);
        }
    }

    public ProviderEntry Entry { get; }

    public string Name => Entry.Name;

    public ProviderType Type => Entry.Type;

    public string TypeName { get; }

    public int Priority => Entry.Priority;

    public int Weight => Entry.Weight;

    public ApiFamily Family { get; }

    public string BaseUrl { get; }

    public string? ApiVersion { get; }

    public string AuthHeaderName { get; }

    public string AuthHeaderValue { get; }

    public static ServingProvider? TryCreate(ProviderEntry entry, out string? problem) => TryCreate(entry, null, out problem);

    /// <param name="interner">Shares the endpoint URIs and model set with other providers; null to share nothing.</param>
    public static ServingProvider? TryCreate(ProviderEntry entry, SnapshotInterner? interner, out string? problem)
    {
        var baseUrl = entry.BaseUrl ?? entry.Type switch
        {
            ProviderType.OpenAI => "https://api.openai.com/v1",
            ProviderType.Anthropic => "https://api.anthropic.com",
            ProviderType.Gemini => "https://generativelanguage.googleapis.com/v1beta/openai",
            _ => null,
        };
        if (baseUrl is null)
        {
            problem = $"provider type {entry.Type} needs a baseUrl";
            return null;
        }

        baseUrl = baseUrl.TrimEnd('/');
        if (interner is not null)
        {
            baseUrl = interner.String(baseUrl);
        }

        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            problem = "baseUrl is not an absolute http(s) URL";
            return null;
        }

        if (string.IsNullOrEmpty(entry.Credential))
        {
            problem = "the credential is empty";
            return null;
        }

        problem = null;
        return new ServingProvider(entry, baseUrl, interner);
    }

    /// <summary>
    /// The provider's URI for each proxy route it serves, by route index (null for the others): the routes of its API shape, except that
    /// Gemini's OpenAI-compatible API has chat completions and embeddings but neither legacy
    /// completions nor the Responses API.
    /// </summary>
    public static Uri?[] CreateRouteUris(string baseUrl, ProviderType type)
    {
        var family = FamilyOf(type);
        var uris = new Uri?[ProxyRoute.All.Count];
        foreach (var route in ProxyRoute.All)
        {
            if (route.Family == family && !(type == ProviderType.Gemini && (route == ProxyRoute.Completions || route == ProxyRoute.Responses)))
            {
                uris[route.Index] = new Uri(baseUrl + route.UpstreamSuffix);
            }
        }

        return uris;
    }

    public bool Serves(string model) => _models is null || _models.Contains(model);

    /// <summary>Whether the provider's API has the proxy route (Azure: every route of the OpenAI shape).</summary>
    public bool ServesRoute(ProxyRoute route) => _azureUris is not null ? route.Family == Family : _routeUris[route.Index] is not null;

    public static ApiFamily FamilyOf(ProviderType type) => type == ProviderType.Anthropic ? ApiFamily.Anthropic : ApiFamily.OpenAI;

    public bool MentionsModel(string model) => _models is not null && _models.Contains(model);

    public ProviderInfo GetInfo(string model)
    {
        if (_info is not null)
        {
            return _info;
        }

        // A key without an allowlist lets clients name any model: cap what they can make us remember.
        return _azureInfos!.Count < MaxCachedModels
            ? _azureInfos.GetOrAdd(model, static (m, self) => self.CreateInfo(self.DeploymentUrl(m)), this)
            : _azureInfos.TryGetValue(model, out var info) ? info : CreateInfo(DeploymentUrl(model));
    }

    public Uri GetUpstreamUri(ProxyRoute route, string model)
    {
        if (_azureUris is null)
        {
            return _routeUris[route.Index] ?? throw new InvalidOperationException($"{TypeName} does not serve {route.Path}.");
        }

        if (route == ProxyRoute.Responses)
        {
            // Azure serves the Responses API only through its v1 API, not per deployment: the
            // deployment goes in the body's model, which the proxy has set already.
            return _azureResponsesUri ??= new Uri($"{BaseUrl}/openai/v1/responses");
        }

        if (_azureUris.TryGetValue((route.Index, model), out var uri))
        {
            return uri;
        }

        uri = new Uri($"{DeploymentUrl(model)}{route.UpstreamSuffix}?api-version={Uri.EscapeDataString(ApiVersion!)}");
        if (_azureUris.Count < MaxCachedModels)
        {
            _azureUris.TryAdd((route.Index, model), uri);
        }

        return uri;
    }

    public override string ToString() => Entry.ToString();

    private string DeploymentUrl(string model) => $"{BaseUrl}/openai/deployments/{Uri.EscapeDataString(model)}";

    private ProviderInfo CreateInfo(string baseUrl)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [AuthHeaderName] = AuthHeaderValue };
        if (Type == ProviderType.Anthropic)
        {
            headers["anthropic-version"] = DefaultAnthropicVersion;
        }

        return new ProviderInfo
        {
            Name = Entry.Name,
            Type = TypeName,
            BaseUrl = baseUrl,
            Credential = Entry.Credential,
            AuthHeaders = headers,
            ApiVersion = ApiVersion,
        };
    }
}
