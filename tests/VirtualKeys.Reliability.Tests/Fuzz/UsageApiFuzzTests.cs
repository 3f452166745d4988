using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Reliability.Tests.BadInput;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Fuzz;

/// <summary>
/// Property tests of <c>POST /v1/usage</c> on a real sidecar over the real registry: arbitrary JSON
/// (some of it naming real decisions) and arbitrary bytes never get a 5xx, never jam the usage
/// pipeline, and reporting a decision again changes nothing.
/// </summary>
public sealed class UsageApiFuzzTests(PostgresFixture postgres)
{
    private static readonly Gen<string> JsonString = FuzzGens.HostileString.Select(s => new string([.. s.Select(c => char.IsSurrogate(c) ? 'x' : c)]));

    private static readonly Gen<JsonNode?> AnyJson = Gen.Recursive<JsonNode?>((depth, self) =>
    {
        var leaf = Gen.Frequency(
            (1, Gen.Const((JsonNode?)null)),
            (1, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
            (2, Gen.Int[-10, 1_000_000].Select(i => (JsonNode?)JsonValue.Create(i))),
            (1, Gen.Long.Select(l => (JsonNode?)JsonValue.Create(l))),
            (1, Gen.Double.Select(d => (JsonNode?)JsonValue.Create(double.IsFinite(d) ? d : 1e308))),
            (1, Gen.OneOfConst("1e400", "-0", "9223372036854775808", "0.0000001").Select(n => JsonNode.Parse(n))),
            (3, JsonString.Select(s => (JsonNode?)JsonValue.Create(s))));
        if (depth >= 3)
        {
            return leaf;
        }

        var array = self.List[0, 4].Select(items => (JsonNode?)new JsonArray([.. items]));
        var obj = Gen.Select(JsonString, self).List[0, 4].Select(pairs =>
        {
            var o = new JsonObject();
            foreach (var (k, v) in pairs)
            {
                o[k] = v;
            }

            return (JsonNode?)o;
        });
        return Gen.Frequency((5, leaf), (1, array), (1, obj));
    });

    /// <summary>A field of a usage report: usually a plausible value, sometimes anything at all.</summary>
    private static Gen<JsonNode?> Field(Gen<JsonNode?> plausible) => Gen.Frequency((3, plausible), (1, AnyJson), (1, Gen.Const((JsonNode?)null)));

    private static readonly Gen<(bool RealDecision, JsonObject Body)> Report = Gen.Select(
        Gen.Bool,
        Field(JsonString.Select(s => (JsonNode?)JsonValue.Create(s))),
        Field(Gen.Long[-5, 200_000_000].Select(l => (JsonNode?)JsonValue.Create(l))),
        Field(Gen.Long[-5, 200_000_000].Select(l => (JsonNode?)JsonValue.Create(l))),
        Field(Gen.OneOf(Gen.Int[0, 999].Select(i => (JsonNode?)JsonValue.Create(i)), Gen.OneOfConst("success", "error", "cancelled", "SUCCESS", "").Select(s => (JsonNode?)JsonValue.Create(s)))),
        Field(Gen.Double[-10, 1e6].Select(d => (JsonNode?)JsonValue.Create(d))),
        Field(Gen.OneOf(Gen.Const("openai").Select(s => (JsonNode?)JsonValue.Create(s)), JsonString.Select(s => (JsonNode?)JsonValue.Create(s)))),
        Gen.Select(JsonString, AnyJson).List[0, 2]).Select((real, id, input, output, status, latency, provider, extra) =>
        {
            var body = new JsonObject();
            void Set(string name, JsonNode? value)
            {
                if (value is not null)
                {
                    body[name] = value;
                }
            }

            Set("decisionId", id);
            Set("inputTokens", input);
            Set("outputTokens", output);
            Set("status", status);
            Set("latencyMs", latency);
            Set("provider", provider);
            foreach (var (name, value) in extra)
            {
                body[name] = value;
            }

            return (real, body);
        });

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Arbitrary_usage_reports_never_get_a_5xx_and_never_jam_usage_writes()
    {
        await using var stack = await SidecarStack.StartAsync(postgres, "usagefuzz");
        var key = await stack.AddKeyAsync("fuzzed");
        var answers = new Dictionary<int, int>();

        await Report.SampleAsync(
            async (real, body) =>
            {
                if (real)
                {
                    body["decisionId"] = await ResolveAsync(stack, key.Token);
                }

                var (status, text) = await PostAsync(stack, Encoding.UTF8.GetBytes(body.ToJsonString()));
                answers[status] = answers.GetValueOrDefault(status) + 1;
                AssertAnswer(status, text);
            },
            iter: FuzzGens.Iterations(300, 5_000),
            threads: 1,
            print: sample => $"a report of {sample.Item2?.Count} fields (real decision: {sample.Item1}): {sample.Item2?.ToJsonString()}");

        await Gen.Byte.Array[0, 300].SampleAsync(
            async bytes =>
            {
                var (status, text) = await PostAsync(stack, bytes);
                answers[status] = answers.GetValueOrDefault(status) + 1;
                AssertAnswer(status, text);
            },
            iter: FuzzGens.Iterations(200, 2_000),
            threads: 1,
            print: bytes => $"{bytes?.Length} bytes");

        // Whatever was reported above, usage still reaches the registry.
        var witness = await stack.AddKeyAsync("witness");
        var decision = await ResolveAsync(stack, witness.Token);
        var (reported, _) = await PostAsync(stack, Encoding.UTF8.GetBytes(new JsonObject { ["decisionId"] = decision, ["inputTokens"] = 777, ["outputTokens"] = 3 }.ToJsonString()));
        Assert.Equal(200, reported);
        var totals = await WaitForUsageAsync(stack, witness.KeyId, t => t.InputTokens == 777, TimeSpan.FromSeconds(20));

        Assert.DoesNotContain(answers.Keys, status => status >= 500);
        await new ScenarioFigures(
            "fuzz-usage-api",
            "Bad input",
            "Property test: arbitrary usage reports",
            $"{answers.Values.Sum()} arbitrary reports and byte strings got no 5xx, and a report made afterwards reached the registry ({totals.Requests} request).",
            true,
            [
                new("reports sent", answers.Values.Sum()),
                new("answers by status", string.Join(", ", answers.OrderBy(a => a.Key).Select(a => $"{a.Key} x{a.Value}"))),
                new("5xx answers", answers.Where(a => a.Key >= 500).Sum(a => a.Value)),
            ]).WriteAsync(Cancel);
    }

    [Fact]
    public async Task Reporting_a_decision_again_changes_nothing()
    {
        await using var stack = await SidecarStack.StartAsync(postgres, "usageidem");
        var key = await stack.AddKeyAsync("idempotent");
        long expectedInput = 0;
        long expectedOutput = 0;
        var reports = 0;

        await Gen.Select(Gen.Long[0, 50_000], Gen.Long[0, 50_000], Gen.Long[0, 50_000], Gen.Int[1, 3]).SampleAsync(
            async (input, output, otherInput, repeats) =>
            {
                var decision = await ResolveAsync(stack, key.Token);
                var first = await ReportAsync(stack, decision, input, output);
                Assert.Equal("recorded", first.GetProperty("status").GetString());
                for (var i = 0; i < repeats; i++)
                {
                    var again = await ReportAsync(stack, decision, otherInput, otherInput);
                    Assert.Equal("already_settled", again.GetProperty("status").GetString());
                }

                expectedInput += input;
                expectedOutput += output;
                reports++;
            },
            iter: FuzzGens.Iterations(60, 1_000),
            threads: 1);

        var totals = await WaitForUsageAsync(stack, key.KeyId, t => t.Requests >= reports, TimeSpan.FromSeconds(20));
        Assert.Equal(reports, totals.Requests);
        Assert.Equal(expectedInput, totals.InputTokens);
        Assert.Equal(expectedOutput, totals.OutputTokens);
    }

    private static void AssertAnswer(int status, string text)
    {
        SecretLedger.Observe("usage fuzz answer", text);
        Assert.True(status < 500, $"POST /v1/usage answered {status}: {text}");
        using var document = JsonDocument.Parse(text);
        if (status >= 400)
        {
            var error = document.RootElement.GetProperty("error");
            Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        }
        else
        {
            Assert.Contains(document.RootElement.GetProperty("status").GetString(), new[] { "recorded", "already_settled" });
        }
    }

    private static async Task<string> ResolveAsync(SidecarStack stack, string token)
    {
        using var response = await stack.Client.PostAsync(
            "/v1/resolve",
            new StringContent(new JsonObject { ["virtualKey"] = token }.ToJsonString(), Encoding.UTF8, "application/json"),
            Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.IsSuccessStatusCode, $"resolve answered {(int)response.StatusCode}");
        return JsonDocument.Parse(text).RootElement.GetProperty("decisionId").GetString()!;
    }

    private static async Task<JsonElement> ReportAsync(SidecarStack stack, string decision, long input, long output)
    {
        var (status, text) = await PostAsync(stack, Encoding.UTF8.GetBytes(new JsonObject { ["decisionId"] = decision, ["inputTokens"] = input, ["outputTokens"] = output, ["status"] = 200 }.ToJsonString()));
        Assert.True(status == 200, $"usage answered {status}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<(int Status, string Text)> PostAsync(SidecarStack stack, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await stack.Client.PostAsync("/v1/usage", content, Cancel);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    private static async Task<UsageTotals> WaitForUsageAsync(SidecarStack stack, string keyId, Func<UsageTotals, bool> condition, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            var totals = await stack.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, DateTimeOffset.UtcNow, Cancel);
            if (condition(totals))
            {
                return totals;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Usage of key {keyId} did not reach the registry within {bound.TotalSeconds:0}s: {totals.Requests} requests, {totals.InputTokens} input tokens.");
            await Task.Delay(100, Cancel);
        }
    }
}
