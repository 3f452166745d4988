using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Reliability.Tests.BadInput;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Authorization;

/// <summary>
/// One key's token gives no hold on another key: it resolves only its own key, its requests count
/// only against its own limits, and the decision ids it sees do not let it settle (or spend on)
/// decisions of other keys, though <c>POST /v1/usage</c> takes no token.
/// </summary>
public sealed class CrossKeyTests(PostgresFixture postgres)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_token_of_one_key_cannot_resolve_spend_or_settle_another_key()
    {
        await using var stack = await SidecarStack.StartAsync(postgres, "crosskey");
        var a = await stack.AddKeyAsync("key-a");
        var b = await stack.AddKeyAsync("key-b", c => c with { Limits = new KeyLimits(RequestsPerMinute: 3) });

        // A resolves A, however often, and that costs B nothing.
        var aDecisions = new List<string>();
        var answersNamingB = 0;
        for (var i = 0; i < 5; i++)
        {
            var resolved = await ResolveAsync(stack, a.Token);
            Assert.Equal(200, resolved.Status);
            var named = resolved.Body.GetProperty("key");
            if (named.GetProperty("id").GetString() == b.KeyId || named.GetProperty("namespace").GetString() == b.Identity.Namespace)
            {
                answersNamingB++;
            }

            Assert.Equal(a.KeyId, named.GetProperty("id").GetString());
            Assert.Equal(a.Identity.Namespace, named.GetProperty("namespace").GetString());
            aDecisions.Add(resolved.Body.GetProperty("decisionId").GetString()!);
        }

        // B's three requests per minute are counted in fixed UTC minutes: keep B's part inside one.
        var now = DateTime.UtcNow;
        if (now.Second > 40)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - now.Second), Cancel);
        }

        var bDecision = await ResolveAsync(stack, b.Token);
        Assert.Equal(200, bDecision.Status);
        Assert.Equal(b.KeyId, bDecision.Body.GetProperty("key").GetProperty("id").GetString());
        var bId = bDecision.Body.GetProperty("decisionId").GetString()!;

        // With A's decision ids in hand, guess B's: the neighbours in sequence, in the old and the current shape.
        var guesses = Neighbours(aDecisions[^1]).Where(g => !aDecisions.Contains(g)).ToList();
        var settledByGuess = 0;
        foreach (var guess in guesses)
        {
            var (status, text) = await ReportAsync(stack, guess, 100_000_000, 100_000_000);
            SecretLedger.Observe("usage answer to a guessed decision id", text);
            if (status == 200)
            {
                settledByGuess++;
            }
        }

        // B's decision is still B's to report, and B is charged only what B reported.
        var (bStatus, bText) = await ReportAsync(stack, bId, 11, 7);
        Assert.Equal(200, bStatus);
        Assert.Equal("recorded", JsonDocument.Parse(bText).RootElement.GetProperty("status").GetString());
        Assert.Equal(0, settledByGuess);
        foreach (var id in aDecisions)
        {
            Assert.Equal(200, (await ReportAsync(stack, id, 1, 1)).Status);
        }

        var bTotals = await WaitForUsageAsync(stack, b.KeyId, t => t.Requests >= 1);
        Assert.Equal(1, bTotals.Requests);
        Assert.Equal(11, bTotals.InputTokens);
        Assert.Equal(7, bTotals.OutputTokens);

        // B's own limit still has room for B's remaining two requests, then refuses.
        Assert.Equal(200, (await ResolveAsync(stack, b.Token)).Status);
        Assert.Equal(200, (await ResolveAsync(stack, b.Token)).Status);
        var limited = await ResolveAsync(stack, b.Token);
        Assert.Equal(429, limited.Status);

        await new ScenarioFigures(
            "authorization-cross-key",
            "Authorization",
            "One key's token against another key",
            $"Key A's token resolved only key A in {aDecisions.Count} requests without using key B's limit; {guesses.Count} guessed decision ids derived from A's settled none of B's decisions.",
            true,
            [
                new("requests with key A's token", aDecisions.Count),
                new("answers naming key B", answersNamingB),
                new("guessed decision ids tried", guesses.Count),
                new("guessed decision ids accepted", settledByGuess),
                new("key B's recorded input tokens (reported 11)", bTotals.InputTokens),
            ]).WriteAsync(Cancel);
    }

    [Fact]
    public async Task A_token_in_the_body_and_another_in_the_header_resolve_the_body_token_only()
    {
        await using var stack = await SidecarStack.StartAsync(postgres, "twotokens");
        var a = await stack.AddKeyAsync("key-a");
        var b = await stack.AddKeyAsync("key-b");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/resolve")
        {
            Content = new StringContent(new JsonObject { ["virtualKey"] = a.Token }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", b.Token);
        using var response = await stack.Client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(a.KeyId, JsonDocument.Parse(text).RootElement.GetProperty("key").GetProperty("id").GetString());
    }

    /// <summary>Decision ids a caller could derive from one it holds: the sequence numbers around it.</summary>
    private static IEnumerable<string> Neighbours(string known)
    {
        var prefix = known.Substring(1, 16);
        var sequence = ulong.Parse(known.AsSpan(17, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        var rest = known[33..];
        for (var s = sequence > 8 ? sequence - 8 : 1; s <= sequence + 8; s++)
        {
            var hex = s.ToString("x16", CultureInfo.InvariantCulture);
            yield return "d" + prefix + hex;
            yield return "d" + prefix + hex + rest;
        }
    }

    private static async Task<(int Status, JsonElement Body)> ResolveAsync(SidecarStack stack, string token)
    {
        using var response = await stack.Client.PostAsync(
            "/v1/resolve",
            new StringContent(new JsonObject { ["virtualKey"] = token }.ToJsonString(), Encoding.UTF8, "application/json"),
            Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static async Task<(int Status, string Text)> ReportAsync(SidecarStack stack, string decisionId, long input, long output)
    {
        using var response = await stack.Client.PostAsync(
            "/v1/usage",
            new StringContent(new JsonObject { ["decisionId"] = decisionId, ["inputTokens"] = input, ["outputTokens"] = output }.ToJsonString(), Encoding.UTF8, "application/json"),
            Cancel);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    private static async Task<UsageTotals> WaitForUsageAsync(SidecarStack stack, string keyId, Func<UsageTotals, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var totals = await stack.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, DateTimeOffset.UtcNow, Cancel);
            if (condition(totals) || DateTime.UtcNow > deadline)
            {
                return totals;
            }

            await Task.Delay(100, Cancel);
        }
    }
}
