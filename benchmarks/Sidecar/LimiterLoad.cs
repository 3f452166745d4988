using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// Offers one rate-limited key far more requests than its limit, through several sidecars at once,
/// and counts what they admitted per UTC minute. Each request is counted in the minute of the midpoint
/// between sending it and its answer; a request whose send and answer fall in different minutes is
/// counted there too and reported as straddling, so the ambiguity is visible.
/// </summary>
internal sealed class LimiterLoad
{
    private const string Body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"limiter"}],"max_tokens":4}""";

    private readonly IReadOnlyList<Uri> _sidecars;
    private readonly string _token;
    private readonly int _loopsPerSidecar;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<DateTime, MinuteCount> _minutes = [];

    /// <param name="requestsPerSecondPerSidecar">The offered load on each sidecar, split over <paramref name="loopsPerSidecar"/> paced loops.</param>
    public LimiterLoad(IReadOnlyList<Uri> sidecars, string token, int requestsPerSecondPerSidecar, int loopsPerSidecar)
    {
        _sidecars = sidecars;
        _token = token;
        _loopsPerSidecar = loopsPerSidecar;
        _interval = TimeSpan.FromSeconds((double)loopsPerSidecar / requestsPerSecondPerSidecar);
    }

    public long Straddling { get; private set; }

    public long OtherFailures { get; private set; }

    /// <summary>Admitted (200) and refused (429) per UTC minute, in order.</summary>
    public IReadOnlyList<(DateTime Minute, long Admitted, long Refused)> Minutes
    {
        get
        {
            lock (_gate)
            {
                return [.. _minutes.Select(m => (m.Key, m.Value.Admitted, m.Value.Refused))];
            }
        }
    }

    public long TotalAdmitted => Minutes.Sum(m => m.Admitted);

    /// <summary>Offers load until <paramref name="until"/> (UTC).</summary>
    public async Task RunAsync(DateTime until, CancellationToken cancellationToken)
    {
        var clients = _sidecars.Select(address => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = _loopsPerSidecar, UseCookies = false })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(10),
        }).ToList();
        try
        {
            var loops = new List<Task>();
            foreach (var client in clients)
            {
                for (var i = 0; i < _loopsPerSidecar; i++)
                {
                    var offset = _interval * i / _loopsPerSidecar;
                    loops.Add(Task.Run(() => LoopAsync(client, offset, until, cancellationToken), cancellationToken));
                }
            }

            await Task.WhenAll(loops);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private async Task LoopAsync(HttpClient client, TimeSpan offset, DateTime until, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var next = offset;
        while (DateTime.UtcNow < until)
        {
            var wait = next - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            next += _interval;
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = new StringContent(Body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            var sent = DateTime.UtcNow;
            HttpStatusCode? status;
            try
            {
                using var response = await client.SendAsync(request, cancellationToken);
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                status = response.StatusCode;
            }
            catch (HttpRequestException)
            {
                status = null;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                status = null;
            }

            Count(sent, DateTime.UtcNow, status);
        }
    }

    private void Count(DateTime sent, DateTime answered, HttpStatusCode? status)
    {
        var midpoint = sent + ((answered - sent) / 2);
        var minute = new DateTime(midpoint.Ticks - (midpoint.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc);
        lock (_gate)
        {
            if (!_minutes.TryGetValue(minute, out var count))
            {
                count = new MinuteCount();
                _minutes[minute] = count;
            }

            switch (status)
            {
                case HttpStatusCode.OK:
                    count.Admitted++;
                    if (sent.Minute != answered.Minute)
                    {
                        Straddling++;
                    }

                    break;
                case HttpStatusCode.TooManyRequests:
                    count.Refused++;
                    break;
                default:
                    OtherFailures++;
                    break;
            }
        }
    }

    private sealed class MinuteCount
    {
        public long Admitted { get; set; }

        public long Refused { get; set; }
    }
}
