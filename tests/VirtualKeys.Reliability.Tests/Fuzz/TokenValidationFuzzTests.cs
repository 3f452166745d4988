using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Reliability.Tests.BadInput;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Fuzz;

/// <summary>
/// Property test of token validation end to end: near misses of a registered token (a character
/// replaced, inserted or removed, the prefix changed, another key's id with this key's secret) sent
/// to a real sidecar over the real registry are refused with 401 and a JSON error, in the body of
/// <c>/v1/resolve</c> and as a bearer token of the proxy alike; only the token itself resolves.
/// </summary>
public sealed class TokenValidationFuzzTests(PostgresFixture postgres)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Near_misses_of_a_registered_token_are_refused_and_never_resolve_any_key()
    {
        await using var stack = await SidecarStack.StartAsync(postgres, "tokenfuzz");
        var key = await stack.AddKeyAsync("target");
        var other = await stack.AddKeyAsync("neighbour");
        Assert.True(VirtualKeyToken.TryParse(key.Token, out var parsed));
        Assert.True(VirtualKeyToken.TryParse(other.Token, out var neighbour));
        var token = key.Token;

        // The neighbour's key id with the target's secret: well-formed, and must not pass as either key.
        var crossed = token.Replace(parsed.KeyId, neighbour.KeyId, StringComparison.Ordinal);
        var mutations = Gen.Select(Gen.Int[0, token.Length - 1], FuzzGens.HostileChar, Gen.Int[0, 4]).Select((at, c, how) => how switch
        {
            0 => token[..at] + c + token[(at + 1)..],
            1 => token[..at] + c + token[at..],
            2 => token[..at] + token[(at + 1)..],
            3 => token[..at] + char.ToUpperInvariant(token[at]) + token[(at + 1)..],
            _ => crossed,
        });

        var answers = new Dictionary<int, int>();
        var accepted = 0;
        await mutations.SampleAsync(
            async mutated =>
            {
                var expected = string.Equals(mutated, token, StringComparison.Ordinal) ? 200 : 401;
                accepted += expected == 200 ? 1 : 0;
                var (status, text) = await ResolveAsync(stack, mutated);
                answers[status] = answers.GetValueOrDefault(status) + 1;
                Assert.True(status == expected, $"POST /v1/resolve with a near miss answered {status}: {text}");
                if (expected == 401)
                {
                    AssertJsonError(text);
                }

                // As a bearer token, when the mutation can travel in a header at all. Spaces around it
                // are not part of it there: "Bearer" may be followed by several (RFC 6750), and HTTP
                // trims a header value's end.
                if (mutated.All(ch => ch is >= ' ' and <= '~'))
                {
                    var bearerExpected = string.Equals(mutated.Trim(' '), token, StringComparison.Ordinal) ? 200 : 401;
                    accepted += bearerExpected == 200 ? 1 : 0;
                    var (bearerStatus, bearerText) = await ChatAsync(stack, mutated);
                    answers[bearerStatus] = answers.GetValueOrDefault(bearerStatus) + 1;
                    Assert.True(bearerExpected == 200 ? bearerStatus < 400 : bearerStatus == 401, $"the proxy with a near-miss bearer token answered {bearerStatus}: {bearerText}");
                    if (bearerExpected == 401)
                    {
                        AssertJsonError(bearerText);
                    }
                }
            },
            iter: FuzzGens.Iterations(150, 2_000),
            threads: 1,
            print: mutated => $"a near miss of {mutated?.Length} characters");

        // The token itself still resolves, to its own key.
        var (ok, body) = await ResolveAsync(stack, token);
        Assert.Equal(200, ok);
        Assert.Equal(key.KeyId, JsonDocument.Parse(body).RootElement.GetProperty("key").GetProperty("id").GetString());

        var sent = answers.Values.Sum();
        await new ScenarioFigures(
            "fuzz-token-validation",
            "Bad input",
            "Property test: near misses of a registered token",
            $"{sent} near misses of a registered token (as a resolve body and a bearer token) were refused with 401 and a JSON error; none resolved a key, and the token itself still resolves.",
            true,
            [
                new("requests sent", sent),
                new("answers by status", string.Join(", ", answers.OrderBy(a => a.Key).Select(a => $"{a.Key} x{a.Value}"))),
                new("requests carrying the token itself (a mutation that changed nothing, or spaces around a bearer token)", accepted),
                new("near misses accepted", answers.Where(a => a.Key < 400).Sum(a => a.Value) - accepted),
            ]).WriteAsync(Cancel);
    }

    private static void AssertJsonError(string text)
    {
        SecretLedger.Observe("token fuzz answer", text);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
    }

    private static async Task<(int Status, string Text)> ResolveAsync(SidecarStack stack, string token)
    {
        using var response = await stack.Client.PostAsync(
            "/v1/resolve",
            new StringContent(new JsonObject { ["virtualKey"] = token }.ToJsonString(), Encoding.UTF8, "application/json"),
            Cancel);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    private static async Task<(int Status, string Text)> ChatAsync(SidecarStack stack, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        using var response = await stack.Client.SendAsync(request, Cancel);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }
}
