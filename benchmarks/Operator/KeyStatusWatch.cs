using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using VirtualKeys.Model;

namespace VirtualKeys.Operator.Benchmarks;

/// <summary>
/// Follows every VirtualKey's status through one watch of its own (as <c>kubectl get vk -w -A</c>
/// would), so the benchmark learns when keys turn Ready or show usage without listing 10,000
/// objects over and over. Resumes a closed watch; relists on 410 Gone.
/// </summary>
internal sealed class KeyStatusWatch : IAsyncDisposable
{
    private const string Collection = "apis/" + WellKnown.Group + "/" + WellKnown.Version + "/" + WellKnown.Plural;
    private readonly ConcurrentDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _readyAt;
    private int _lists;

    private KeyStatusWatch(Uri server, string bearerToken)
    {
        _http = new HttpClient { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Keys with condition Ready=True now.</summary>
    public int Ready => _keys.Values.Count(k => k.Ready);

    /// <summary>The <see cref="Environment.TickCount64"/> at which the watch last saw a key turn Ready.</summary>
    public long LastReadyTick => Interlocked.Read(ref _readyAt);

    /// <summary>Lists this watch has sent (to tell them from the operator's relists at the server).</summary>
    public int Lists => Volatile.Read(ref _lists);

    public static KeyStatusWatch Start(Uri server, string bearerToken) => new(server, bearerToken);

    /// <summary>Keys (by namespace/name) whose status.usage.requests is at least <paramref name="requests"/>.</summary>
    public int WithRequests(IReadOnlyCollection<string> names, long requests) =>
        names.Count(n => _keys.TryGetValue(n, out var k) && k.Requests >= requests);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        string? version = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                version ??= await ListAsync(cancellationToken);
                var url = $"{Collection}?watch=true&allowWatchBookmarks=true&resourceVersion={version}";
                using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (response.StatusCode == HttpStatusCode.Gone)
                {
                    version = null;
                    continue;
                }

                response.EnsureSuccessStatusCode();
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    using var document = JsonDocument.Parse(line);
                    var type = document.RootElement.GetProperty("type").GetString();
                    var obj = document.RootElement.GetProperty("object");
                    if (type == "ERROR")
                    {
                        // 410 Expired inside the stream: the history moved past us.
                        version = null;
                        break;
                    }

                    version = obj.GetProperty("metadata").GetProperty("resourceVersion").GetString() ?? version;
                    if (type == "DELETED")
                    {
                        _keys.TryRemove(Name(obj), out _);
                    }
                    else if (type != "BOOKMARK")
                    {
                        Record(obj);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
            {
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        await using var stream = await _http.GetStreamAsync(Collection, cancellationToken);
        using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
        _keys.Clear();
        foreach (var item in document.RootElement.GetProperty("items").EnumerateArray())
        {
            Record(item);
        }

        return document.RootElement.GetProperty("metadata").GetProperty("resourceVersion").GetString()!;
    }

    private void Record(JsonElement obj)
    {
        var ready = false;
        long requests = 0;
        if (obj.TryGetProperty("status", out var status))
        {
            if (status.TryGetProperty("conditions", out var conditions))
            {
                ready = conditions.EnumerateArray().Any(c =>
                    c.GetProperty("type").GetString() == ConditionTypes.Ready && c.GetProperty("status").GetString() == "True");
            }

            if (status.TryGetProperty("usage", out var usage) && usage.TryGetProperty("requests", out var count))
            {
                requests = count.GetInt64();
            }
        }

        var name = Name(obj);
        var was = _keys.TryGetValue(name, out var previous) && previous.Ready;
        _keys[name] = new KeyState(ready, requests);
        if (ready && !was)
        {
            Interlocked.Exchange(ref _readyAt, Environment.TickCount64);
        }
    }

    private static string Name(JsonElement obj)
    {
        var metadata = obj.GetProperty("metadata");
        return string.Create(CultureInfo.InvariantCulture, $"{metadata.GetProperty("namespace").GetString()}/{metadata.GetProperty("name").GetString()}");
    }

    private readonly record struct KeyState(bool Ready, long Requests);
}
