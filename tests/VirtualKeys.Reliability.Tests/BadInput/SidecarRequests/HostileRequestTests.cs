using System.Text.Json;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

/// <summary>
/// Every hostile request of the corpus against one real sidecar (registry on PostgreSQL, loopback
/// sockets): each is answered with a 4xx, never a 5xx and never a hang, and the sidecar keeps serving.
/// </summary>
public sealed class HostileRequestTests(PostgresFixture postgres)
{
    private const int MinimumCases = 60;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_hostile_request_gets_a_4xx_and_the_sidecar_keeps_serving()
    {
        var corpus = HostileRequestCorpus.All;
        Assert.True(corpus.Count >= MinimumCases, $"The corpus has {corpus.Count} requests; the issue asks for at least {MinimumCases}.");
        Assert.Equal(corpus.Count, corpus.Select(c => c.Id).Distinct(StringComparer.Ordinal).Count());

        await using var stack = await SidecarStack.StartAsync(postgres, "hostile");
        var key = await stack.AddKeyAsync();
        var unknown = VirtualKeyToken.Generate(VirtualKeyId.FromUid(Guid.NewGuid().ToString())).Reveal();
        var wrongSecret = VirtualKeyToken.Generate(key.KeyId).Reveal();
        SecretLedger.Track(unknown);
        SecretLedger.Track(wrongSecret);
        var keys = new CorpusKeys(key.Token, unknown, wrongSecret);

        // Slow clients run side by side in the background while the rest go one by one.
        var slow = corpus.Where(c => c.Answer == ExpectedAnswer.ErrorOrClose).ToList();
        var slowRuns = slow.Select(c => RunAsync(stack, c, keys)).ToList();
        var results = new List<(HostileRequest Case, RawResponse? Response, string? Failure)>();
        foreach (var item in corpus.Except(slow))
        {
            results.Add(await RunAsync(stack, item, keys));
        }

        results.AddRange(await Task.WhenAll(slowRuns));

        // Still serving: health and a real request with the good token.
        using var health = await stack.Client.GetAsync("/healthz", Cancel);
        Assert.True(health.IsSuccessStatusCode, $"/healthz answered {(int)health.StatusCode} after the corpus");
        using var resolve = await stack.Client.PostAsync(
            "/v1/resolve",
            new StringContent(JsonSerializer.Serialize(new { virtualKey = key.Token }), System.Text.Encoding.UTF8, "application/json"),
            Cancel);
        var resolved = await resolve.Content.ReadAsStringAsync(Cancel);
        Assert.True(resolve.IsSuccessStatusCode, $"A good token was refused after the corpus: {(int)resolve.StatusCode}");

        var failures = results.Where(r => r.Failure is not null).Select(r => $"{r.Case.Id} ({r.Case.What}): {r.Failure}").ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {corpus.Count} hostile requests were mishandled:\n" + string.Join('\n', failures));
        Assert.DoesNotContain("Unhandled", stack.Logs.All, StringComparison.Ordinal);

        var answered = results.Select(r => r.Response!).ToList();
        var slowest = results.Where(r => r.Case.Answer == ExpectedAnswer.ErrorOrClose).Max(r => r.Response!.Elapsed);
        await new ScenarioFigures(
            "bad-input-sidecar-requests",
            "Bad input",
            "Malformed and hostile requests to the sidecar",
            $"All {corpus.Count} hostile requests were answered with a 4xx and a JSON error or, for slow clients, cut off within {slowest.TotalSeconds:0}s; none got a 5xx, and the sidecar served a good token afterwards.",
            true,
            [
                new("requests", corpus.Count),
                new("4xx with a JSON error", answered.Count(r => r.Status is >= 400 and < 500 && r.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true)),
                new("of which refused by Kestrel before the sidecar (framing), JSON body added per connection", results.Count(r => r.Case.Answer == ExpectedAnswer.FramingError)),
                new("slow clients cut off", slow.Count),
                new("slowest slow client cut off after (s)", Math.Round(slowest.TotalSeconds, 1)),
                new("5xx answers", answered.Count(r => r.Status >= 500)),
                new("statuses", string.Join(", ", answered.Where(r => r.Status is not null).GroupBy(r => r.Status!.Value).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"))),
            ]).WriteAsync(Cancel);
    }

    private static async Task<(HostileRequest Case, RawResponse? Response, string? Failure)> RunAsync(SidecarStack stack, HostileRequest item, CorpusKeys keys)
    {
        RawResponse response;
        try
        {
            response = await RawHttp.ExchangeAsync(stack.BaseAddress, item.Send(keys), item.Bound, Cancel);
        }
        catch (TimeoutException e)
        {
            return (item, null, e.Message);
        }

        SecretLedger.Observe($"sidecar answer to {item.Id}", response.Body + "\n" + string.Join('\n', response.Headers.Select(h => $"{h.Key}: {h.Value}")));
        return (item, response, Judge(item, response));
    }

    /// <summary>Null when the answer is what the case expects; else what is wrong with it.</summary>
    private static string? Judge(HostileRequest item, RawResponse response)
    {
        if (response.Closed)
        {
            return item.Answer == ExpectedAnswer.ErrorOrClose ? null : "the connection closed without an answer";
        }

        if (response.Status >= 500)
        {
            return $"a server error: {response}";
        }

        if (response.Status < 400 || (item.Status is { } expected && response.Status != expected))
        {
            return $"expected {item.Status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "a 4xx"}, got {response}";
        }

        if (response.Headers.ContainsKey("Set-Cookie") || response.Headers.ContainsKey("X-Injected"))
        {
            return $"an injected header reached the response: {string.Join(", ", response.Headers.Keys)}";
        }

        return JsonErrorProblem(response);
    }

    private static string? JsonErrorProblem(RawResponse response)
    {
        if (response.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true)
        {
            return $"not a JSON error: {response}";
        }

        try
        {
            using var document = JsonDocument.Parse(response.Body);
            var error = document.RootElement.GetProperty("error");
            foreach (var field in new[] { "type", "code", "message" })
            {
                if (!error.TryGetProperty(field, out var value) || string.IsNullOrWhiteSpace(value.GetString()))
                {
                    return $"the JSON error lacks {field}: {response.Body}";
                }
            }

            return null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"not an OpenAI-shaped error ({e.GetType().Name}): {response.Body}";
        }
    }
}
