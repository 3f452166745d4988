using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace VirtualKeys.MockProvider;

/// <summary>
/// A deterministic LLM provider on a loopback port, speaking OpenAI (also in Azure's deployment path
/// form) and Anthropic. Answers echo the requested model, count input "tokens" as words, and stream
/// when asked. It records every request (headers included, so tests can check which credential
/// arrived) and can be told to fail the next requests.
/// </summary>
public sealed class MockLlmProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly MockLlmProviderOptions _options;
    private readonly Lock _gate = new();
    private readonly List<MockRequest> _requests = [];
    private readonly Queue<MockFault> _faults = new();
    private static readonly TimeSpan BreakStreamDelay = TimeSpan.FromMilliseconds(300);

    private TaskCompletionSource? _streamPause;
    private long _sequence;

    private MockLlmProvider(WebApplication app, MockLlmProviderOptions options, Uri baseAddress)
    {
        _app = app;
        _options = options;
        BaseAddress = baseAddress;
    }

    /// <summary>E.g. http://127.0.0.1:40123/ (Anthropic and Azure base URL).</summary>
    public Uri BaseAddress { get; }

    /// <summary>The base URL of the OpenAI-shaped API, ending in /v1 as OpenAI's does.</summary>
    public string OpenAIBaseUrl => BaseAddress.AbsoluteUri + "v1";

    /// <summary>Anthropic's and Azure's base URL have no version path.</summary>
    public string RootUrl => BaseAddress.AbsoluteUri.TrimEnd('/');

    public IReadOnlyList<MockRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<MockLlmProvider> StartAsync(MockLlmProviderOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MockLlmProviderOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, options.Port);
        });
        var app = builder.Build();

        MockLlmProvider? provider = null;
        app.Run(context => provider!.HandleAsync(context));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        provider = new MockLlmProvider(app, options, new Uri(address.TrimEnd('/') + "/"));
        return provider;
    }

    /// <summary>The next <paramref name="count"/> requests get <paramref name="statusCode"/> with an error body.</summary>
    public void FailNext(int count, int statusCode, TimeSpan? retryAfter = null) =>
        Enqueue(count, new MockFault(MockFaultKind.Status, statusCode, RetryAfter: retryAfter));

    /// <summary>The next <paramref name="count"/> requests get <paramref name="statusCode"/> with no body and no content type, as some gateways answer.</summary>
    public void RespondEmptyNext(int count, int statusCode) => Enqueue(count, new MockFault(MockFaultKind.EmptyStatus, statusCode));

    /// <summary>The next <paramref name="count"/> requests have their connection dropped before any byte of a response.</summary>
    public void DropNext(int count) => Enqueue(count, new MockFault(MockFaultKind.DropConnection));

    /// <summary>
    /// The next <paramref name="count"/> requests get a 200 head (status and headers, sent at once) and
    /// then have their connection dropped before any byte of the body.
    /// </summary>
    public void BreakBeforeBodyNext(int count) => Enqueue(count, new MockFault(MockFaultKind.BreakBeforeBody));

    /// <summary>The next <paramref name="count"/> requests wait <paramref name="delay"/> before their first byte.</summary>
    public void DelayNext(int count, TimeSpan delay) => Enqueue(count, new MockFault(MockFaultKind.DelayFirstByte, Delay: delay));

    /// <summary>The next <paramref name="count"/> streamed answers are cut off (the connection aborted) after their first content chunk.</summary>
    public void BreakNextStreams(int count) => Enqueue(count, new MockFault(MockFaultKind.BreakStream));

    /// <summary>
    /// The next <paramref name="count"/> streamed answers report an error inside the stream after their
    /// first content chunk (Anthropic's <c>event: error</c> with an overloaded_error, an OpenAI-style
    /// error object otherwise) and then end cleanly, as a provider overloaded mid-answer does.
    /// </summary>
    public void ErrorInNextStreams(int count) => Enqueue(count, new MockFault(MockFaultKind.ErrorInStream));

    /// <summary>
    /// How many input tokens later answers report as read from the prompt cache (at most all of them),
    /// in each provider's shape: OpenAI's <c>cached_tokens</c> within the input, Anthropic's
    /// <c>cache_read_input_tokens</c> beside it.
    /// </summary>
    public int CachedInputTokens { get; set; }

    /// <summary>
    /// How many input tokens later Anthropic answers report as written to the prompt cache (at most those
    /// not read from it): <c>cache_creation_input_tokens</c> beside the input, split by how long they are
    /// kept in <c>cache_creation</c> (see <see cref="CacheWriteOneHourInputTokens"/>).
    /// </summary>
    public int CacheWriteInputTokens { get; set; }

    /// <summary>Of <see cref="CacheWriteInputTokens"/>, how many are reported as kept for an hour (<c>ephemeral_1h_input_tokens</c>).</summary>
    public int CacheWriteOneHourInputTokens { get; set; }

    /// <summary>
    /// When set, later non-streamed Anthropic answers to a request that offers tools call the first of them
    /// with this input: a <c>tool_use</c> block after the text, whose input is an object, as Anthropic's is.
    /// </summary>
    public JsonObject? ToolUseInput { get; set; }

    /// <summary>Streams stop after their first content chunk until <see cref="ResumeStreams"/>.</summary>
    public void PauseStreamsAfterFirstChunk()
    {
        lock (_gate)
        {
            _streamPause ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void ResumeStreams()
    {
        lock (_gate)
        {
            _streamPause?.TrySetResult();
            _streamPause = null;
        }
    }

    public void Reset()
    {
        lock (_gate)
        {
            _requests.Clear();
            _faults.Clear();
            _streamPause?.TrySetResult();
            _streamPause = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        ResumeStreams();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static string? ProvidedCredential(IHeaderDictionary headers, string name, string? scheme = null)
    {
        var value = headers[name].ToString();
        if (scheme is null)
        {
            return value.Length > 0 ? value : null;
        }

        return value.StartsWith(scheme + " ", StringComparison.OrdinalIgnoreCase) ? value[(scheme.Length + 1)..] : null;
    }

    private void Enqueue(int count, MockFault fault)
    {
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                _faults.Enqueue(fault);
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var path = request.Path.Value ?? "/";
        JsonDocument? document = null;
        try
        {
            try
            {
                document = body.Length > 0 ? JsonDocument.Parse(body) : null;
            }
            catch (JsonException)
            {
                document = null;
            }

            var root = document?.RootElement;
            var deployment = AzureDeployment(path, out var azureOperation);
            var model = root is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String
                ? m.GetString()
                : deployment;

            MockFault? fault;
            lock (_gate)
            {
                _requests.Add(new MockRequest
                {
                    Method = request.Method,
                    Path = path,
                    Query = request.QueryString.Value ?? "",
                    Headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                    Body = body,
                    Model = model,
                });
                _faults.TryDequeue(out fault);
            }

            var anthropic = path == "/v1/messages";
            Func<Task> pause = PauseAsync;
            if (fault is not null)
            {
                switch (fault.Kind)
                {
                    case MockFaultKind.DropConnection:
                        context.Abort();
                        return;
                    case MockFaultKind.BreakBeforeBody:
                        context.Response.StatusCode = StatusCodes.Status200OK;
                        context.Response.ContentType = "application/json";
                        await context.Response.StartAsync(context.RequestAborted);
                        await context.Response.Body.FlushAsync(context.RequestAborted);

                        // Time for the head to reach the client: cut at once, it can be reset before the head is read.
                        await Task.Delay(BreakStreamDelay, CancellationToken.None);
                        context.Abort();
                        return;
                    case MockFaultKind.Status:
                        if (fault.RetryAfter is { } retryAfter)
                        {
                            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                        }

                        await MockResponses.ErrorAsync(context, fault.StatusCode, $"The mock provider was told to fail with {fault.StatusCode}.", anthropic);
                        return;
                    case MockFaultKind.EmptyStatus:
                        context.Response.StatusCode = fault.StatusCode;
                        context.Response.ContentLength = 0;
                        return;
                    case MockFaultKind.DelayFirstByte:
                        await Task.Delay(fault.Delay, context.RequestAborted);
                        break;
                    case MockFaultKind.BreakStream:
                        pause = async () =>
                        {
                            // Time for the first chunk to reach the client before the connection goes:
                            // cut at once, it can be reset before the response head is read.
                            await Task.Delay(BreakStreamDelay, CancellationToken.None);
                            context.Abort();
                            throw new OperationCanceledException("The mock provider broke the stream on purpose.");
                        };
                        break;
                    case MockFaultKind.ErrorInStream:
                        pause = async () =>
                        {
                            await MockResponses.StreamErrorAsync(context, anthropic);
                            throw new StreamEndedException();
                        };
                        break;
                }
            }

            if (!HttpMethods.IsPost(request.Method))
            {
                await MockResponses.ErrorAsync(context, 405, "Only POST is served.", anthropic);
                return;
            }

            if (_options.ExpectedCredential is { } expected && !Presents(request.Headers, expected))
            {
                await MockResponses.ErrorAsync(context, 401, "Incorrect API key provided.", anthropic);
                return;
            }

            if (root is not { ValueKind: JsonValueKind.Object } json)
            {
                await MockResponses.ErrorAsync(context, 400, "The body must be a JSON object.", anthropic);
                return;
            }

            if (string.IsNullOrEmpty(model))
            {
                await MockResponses.ErrorAsync(context, 400, "'model' is required.", anthropic);
                return;
            }

            if (deployment is not null && string.IsNullOrEmpty(request.Query["api-version"]))
            {
                await MockResponses.ErrorAsync(context, 404, "Azure OpenAI needs the api-version query parameter.", anthropic);
                return;
            }

            if (deployment is not null && azureOperation == "/responses")
            {
                // As Azure: the Responses API is not served per deployment, only by the v1 API.
                await MockResponses.ErrorAsync(context, 404, "Resource not found: Azure serves the Responses API at /openai/v1/responses.", anthropic);
                return;
            }

            // Azure's v1 API (/openai/v1/...) takes the deployment in the body's model, like OpenAI.
            var operation = deployment is not null ? azureOperation
                : path.StartsWith("/openai/v1/", StringComparison.Ordinal) ? path["/openai".Length..]
                : path;
            var call = Call(json, model, operation);
            try
            {
                await AnswerAsync(context, call, operation, json, path, anthropic, pause);
            }
            catch (StreamEndedException)
            {
                // The stream ended early on purpose, cleanly.
            }
        }
        finally
        {
            document?.Dispose();
        }
    }

    private static async Task AnswerAsync(HttpContext context, MockCall call, string operation, JsonElement json, string path, bool anthropic, Func<Task> pause)
    {
        switch (operation)
        {
            case "/v1/chat/completions" or "/chat/completions":
                await MockResponses.ChatAsync(context, call, pause);
                break;
            case "/v1/completions" or "/completions":
                await MockResponses.CompletionAsync(context, call, pause);
                break;
            case "/v1/embeddings" or "/embeddings":
                var inputs = json.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Array ? input.GetArrayLength() : 1;
                await MockResponses.EmbeddingsAsync(context, call, inputs);
                break;
            case "/v1/responses" or "/responses":
                await MockResponses.ResponsesAsync(context, call, pause);
                break;
            case "/v1/messages":
                await MockResponses.MessagesAsync(context, call, pause);
                break;
            default:
                await MockResponses.ErrorAsync(context, 404, $"The mock provider does not serve {path}.", anthropic);
                break;
        }
    }

    private MockCall Call(JsonElement json, string model, string operation)
    {
        var inputTokens = MockTokenCounter.CountInput(json);
        var words = $"{_options.AnswerText} for {model} about {inputTokens} words.".Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (operation.EndsWith("embeddings", StringComparison.Ordinal))
        {
            words = [];
        }

        foreach (var limit in (ReadOnlySpan<string>)["max_tokens", "max_completion_tokens", "max_output_tokens"])
        {
            if (json.TryGetProperty(limit, out var value) && value.TryGetInt32(out var max) && max >= 1 && max < words.Length)
            {
                words = words[..max];
            }
        }

        var stream = json.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var includeUsage = json.TryGetProperty("stream_options", out var options)
            && options.ValueKind == JsonValueKind.Object
            && options.TryGetProperty("include_usage", out var include)
            && include.ValueKind == JsonValueKind.True;
        var cached = Math.Clamp(CachedInputTokens, 0, inputTokens);
        var written = Math.Clamp(CacheWriteInputTokens, 0, inputTokens - cached);
        var toolInput = ToolUseInput?.ToJsonString();
        var tool = toolInput is not null
            && json.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0
            && tools[0].TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? (name.GetString()!, toolInput)
            : ((string, string)?)null;
        return new MockCall(model, inputTokens, words, stream, includeUsage, Interlocked.Increment(ref _sequence))
        {
            CachedInputTokens = cached,
            CacheWriteInputTokens = written,
            CacheWriteOneHourInputTokens = Math.Clamp(CacheWriteOneHourInputTokens, 0, written),
            ToolUse = tool,
        };
    }

    private Task PauseAsync()
    {
        Task pause;
        lock (_gate)
        {
            pause = _streamPause?.Task ?? Task.CompletedTask;
        }

        return pause;
    }

    private static bool Presents(IHeaderDictionary headers, string expected) =>
        ProvidedCredential(headers, "Authorization", "Bearer") == expected
        || ProvidedCredential(headers, "api-key") == expected
        || ProvidedCredential(headers, "x-api-key") == expected
        || ProvidedCredential(headers, "x-goog-api-key") == expected;

    /// <summary>Azure's form: /openai/deployments/{deployment}/{operation}?api-version=...</summary>
    private static string? AzureDeployment(string path, out string operation)
    {
        const string prefix = "/openai/deployments/";
        operation = path;
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = path[prefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return null;
        }

        operation = rest[slash..];
        return Uri.UnescapeDataString(rest[..slash]);
    }

    private sealed class StreamEndedException : Exception
    {
    }
}
