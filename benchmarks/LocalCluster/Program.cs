using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using VirtualKeys.LocalCluster;

// Scale check for the local API server: 10,000 custom resources with watchers attached, then
// how long a list of all of them takes. Timings live here, not in unit tests. The last line of
// output is one JSON object with the figures.
const int ObjectCount = 10_000;
const int WatcherCount = 10;
const int ListIterations = 25;
const string Crd = """
    {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.bench.vk.dev"},
     "spec":{"group":"bench.vk.dev","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "additionalPrinterColumns":[{"name":"Color","type":"string","jsonPath":".spec.color"},{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}],
        "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object","properties":{
          "color":{"type":"string","enum":["red","green","blue"]},"replicas":{"type":"integer","minimum":0},
          "limits":{"type":"object","properties":{"requestsPerMinute":{"type":"integer","minimum":1},"tokensPerMinute":{"type":"integer","minimum":1}}}}},
          "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}]}}
    """;

await using var server = await LocalApiServer.StartAsync();
using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
await SendAsync(HttpMethod.Post, "apis/apiextensions.k8s.io/v1/customresourcedefinitions", Crd);
const string Collection = "apis/bench.vk.dev/v1/namespaces/default/widgets";

using var stop = new CancellationTokenSource();
var received = new long[WatcherCount];
var watchers = Enumerable.Range(0, WatcherCount).Select(i => Task.Run(() => WatchAsync(i))).ToArray();
while (server.OpenWatchCount < WatcherCount)
{
    await Task.Delay(10);
}

var createClock = Stopwatch.StartNew();
var next = -1;
await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
{
    int i;
    while ((i = Interlocked.Increment(ref next)) < ObjectCount)
    {
        var body = "{\"apiVersion\":\"bench.vk.dev/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w-" + i.ToString("D5", CultureInfo.InvariantCulture)
            + "\",\"labels\":{\"shard\":\"s" + (i % 16).ToString(CultureInfo.InvariantCulture) + "\"}},\"spec\":{\"color\":\"red\",\"replicas\":"
            + (i % 5).ToString(CultureInfo.InvariantCulture) + ",\"limits\":{\"requestsPerMinute\":60,\"tokensPerMinute\":10000}}}";
        await SendAsync(HttpMethod.Post, Collection, body);
    }
})));
createClock.Stop();

var fanOutClock = Stopwatch.StartNew();
while (received.Any(r => Interlocked.Read(ref r) < ObjectCount))
{
    await Task.Delay(5);
}

fanOutClock.Stop();

var listTimes = new List<double>();
long listBytes = 0;
for (var i = 0; i < ListIterations; i++)
{
    var clock = Stopwatch.StartNew();
    using var response = await http.GetAsync(Collection);
    var bytes = await response.Content.ReadAsByteArrayAsync();
    clock.Stop();
    using var document = JsonDocument.Parse(bytes);
    var count = document.RootElement.GetProperty("items").GetArrayLength();
    if (count != ObjectCount)
    {
        throw new InvalidOperationException($"list returned {count} items, expected {ObjectCount}");
    }

    listBytes = bytes.Length;
    listTimes.Add(clock.Elapsed.TotalMilliseconds);
}

var tableClock = Stopwatch.StartNew();
using (var request = new HttpRequestMessage(HttpMethod.Get, Collection))
{
    request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/json;as=Table;v=v1;g=meta.k8s.io"));
    using var response = await http.SendAsync(request);
    await response.Content.ReadAsByteArrayAsync();
}

tableClock.Stop();

var selectorClock = Stopwatch.StartNew();
await http.GetStringAsync(Collection + "?labelSelector=shard%3Ds3");
selectorClock.Stop();

await stop.CancelAsync();
server.Faults.DropAllWatches();
await Task.WhenAll(watchers);

listTimes.Sort();
var median = listTimes[listTimes.Count / 2];
var p95 = listTimes[(int)Math.Ceiling(listTimes.Count * 0.95) - 1];
Console.WriteLine($"created {ObjectCount} custom resources in {createClock.Elapsed.TotalSeconds:F2}s ({ObjectCount / createClock.Elapsed.TotalSeconds:F0}/s) with {WatcherCount} watchers attached");
Console.WriteLine($"every watcher had all {ObjectCount} ADDED events {fanOutClock.Elapsed.TotalMilliseconds:F0} ms after the last create");
Console.WriteLine($"list of all {ObjectCount} ({listBytes / 1024} KiB): median {median:F1} ms, p95 {p95:F1} ms, max {listTimes[^1]:F1} ms over {ListIterations} runs");
Console.WriteLine($"table list {tableClock.Elapsed.TotalMilliseconds:F1} ms, label-selector list {selectorClock.Elapsed.TotalMilliseconds:F1} ms");
var figures = new Dictionary<string, object>
{
    ["objects"] = ObjectCount,
    ["watchers"] = WatcherCount,
    ["createSeconds"] = Math.Round(createClock.Elapsed.TotalSeconds, 3),
    ["createsPerSecond"] = Math.Round(ObjectCount / createClock.Elapsed.TotalSeconds, 1),
    ["watchFanOutLagMs"] = Math.Round(fanOutClock.Elapsed.TotalMilliseconds, 1),
    ["listAllMedianMs"] = Math.Round(median, 2),
    ["listAllP95Ms"] = Math.Round(p95, 2),
    ["listAllMaxMs"] = Math.Round(listTimes[^1], 2),
    ["listAllBytes"] = listBytes,
    ["tableListMs"] = Math.Round(tableClock.Elapsed.TotalMilliseconds, 2),
    ["labelSelectorListMs"] = Math.Round(selectorClock.Elapsed.TotalMilliseconds, 2),
    ["listAllUnderOneSecond"] = p95 < 1000,
};
Console.WriteLine(JsonSerializer.Serialize(figures));

async Task SendAsync(HttpMethod method, string path, string body)
{
    using var content = new StringContent(body, Encoding.UTF8, "application/json");
    using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = content });
    if (!response.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}

async Task WatchAsync(int index)
{
    try
    {
        using var response = await http.GetAsync(Collection + "?watch=true&resourceVersion=" + server.CurrentResourceVersion.ToString(CultureInfo.InvariantCulture), HttpCompletionOption.ResponseHeadersRead, stop.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
        while (await reader.ReadLineAsync(stop.Token) is { } line)
        {
            if (line.StartsWith("{\"type\":\"ADDED\"", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref received[index]);
            }
        }
    }
    catch (OperationCanceledException)
    {
    }
    catch (IOException)
    {
    }
}
