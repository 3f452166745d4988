using System.Text.Json.Nodes;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>
/// Every manifest of the bad-input corpus against the local API server with the real CRD, the operator
/// and the real PostgreSQL: refused with the field named, or accepted and parked at Ready=False with a
/// reason and the field named, without crashing or hot-looping the operator.
/// </summary>
public sealed class ManifestCorpusTests(PostgresFixture postgres)
{
    private const int MinimumCases = 60;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_bad_manifest_is_refused_with_its_field_or_parked_not_ready_naming_it_and_the_operator_stays_calm()
    {
        var cases = ManifestCase.LoadAll();
        Assert.True(cases.Count >= MinimumCases, $"The corpus has {cases.Count} manifests; the issue asks for at least {MinimumCases}.");
        Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count());

        await using var stack = await OperatorStack.StartAsync(postgres, "badmanifests");
        await CreateSecretsAsync(stack);

        var failures = new List<string>();
        var accepted = new List<ManifestCase>();
        var refused = 0;
        foreach (var item in cases)
        {
            var (status, body) = await stack.CreateKeyAsync(item.Manifest);
            SecretLedger.Observe($"apply {item.File}", body);
            if (item.Outcome == ManifestOutcome.Schema)
            {
                if (status is < 400 or >= 500)
                {
                    failures.Add($"{item.File} ({item.What}): expected a refusal naming {item.Field}, got {status}: {Shorten(body)}");
                }
                else if (!NamesField(body, item.Field))
                {
                    failures.Add($"{item.File} ({item.What}): refused with {status} but without naming {item.Field}: {Shorten(body)}");
                }
                else
                {
                    refused++;
                }
            }
            else if (status != 201)
            {
                failures.Add($"{item.File} ({item.What}): expected the API server to store it, got {status}: {Shorten(body)}");
            }
            else
            {
                accepted.Add(item);
            }
        }

        // Accepted ones: Ready=False with the expected reason and a message naming the field.
        var readyBound = TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + readyBound;
        var pending = accepted.ToList();
        var conditions = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            foreach (var item in pending.ToList())
            {
                var ready = OperatorStack.ReadyOf(await stack.GetKeyAsync(item.Name));
                if (ready is not null && ready["reason"]?.GetValue<string>() == item.Reason)
                {
                    conditions[item.File] = ready;
                    pending.Remove(item);
                }
            }

            await Task.Delay(100, Cancel);
        }

        foreach (var item in accepted)
        {
            if (!conditions.TryGetValue(item.File, out var ready))
            {
                var last = OperatorStack.ReadyOf(await stack.GetKeyAsync(item.Name));
                failures.Add($"{item.File} ({item.What}): expected Ready=False {item.Reason} within {readyBound.TotalSeconds:0}s, has {last?.ToJsonString() ?? "no Ready condition"}");
                continue;
            }

            SecretLedger.Observe($"status {item.File}", ready.ToJsonString());
            var message = ready["message"]?.GetValue<string>() ?? "";
            if (ready["status"]?.GetValue<string>() != "False")
            {
                failures.Add($"{item.File} ({item.What}): Ready is {ready["status"]}, not False");
            }
            else if (!message.Contains(item.Field, StringComparison.Ordinal))
            {
                failures.Add($"{item.File} ({item.What}): the Ready message does not name {item.Field}: {message}");
            }
        }

        // No hot loop: once parked, a bad key is not reconciled again while nothing changes.
        var quiet = ReliabilityRun.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(15));
        var before = accepted.ToDictionary(c => c.Name, c => stack.Logs.ReconcilesOf(c.Name), StringComparer.Ordinal);
        await Task.Delay(quiet, Cancel);
        var maxDuringQuiet = 0;
        var maxTotal = 0;
        foreach (var item in accepted)
        {
            var total = stack.Logs.ReconcilesOf(item.Name);
            maxTotal = Math.Max(maxTotal, total);
            maxDuringQuiet = Math.Max(maxDuringQuiet, total - before[item.Name]);
            if (total - before[item.Name] > 1)
            {
                failures.Add($"{item.File}: reconciled {total - before[item.Name]} times during {quiet.TotalSeconds:0}s of quiet (a hot loop)");
            }

            SecretLedger.Observe($"events {item.File}", await stack.EventsTextAsync(item.Name));
        }

        // The operator is up and still serving good keys after all of that.
        var control = await stack.CreateKeyAsync(JsonNode.Parse("""
            {"apiVersion":"aigateway.dev/v1alpha1","kind":"VirtualKey","metadata":{"name":"control-good"},
             "spec":{"providers":[{"name":"openai","type":"OpenAI","secretRef":{"name":"openai-key","key":"api-key"}}],"defaultModel":"gpt-4o-mini"}}
            """)!.AsObject());
        Assert.Equal(201, control.Status);
        try
        {
            await OperatorStack.Until(
                async () => OperatorStack.ReadyOf(await stack.GetKeyAsync("control-good"))?["status"]?.GetValue<string>() == "True",
                "a good key applied after the corpus is Ready",
                TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException e)
        {
            var ready = OperatorStack.ReadyOf(await stack.GetKeyAsync("control-good"));
            failures.Add($"{e.Message} Its Ready condition: {ready?.ToJsonString() ?? "none"}. Operator errors:\n{string.Join('\n', stack.Logs.ErrorLines.TakeLast(20))}");
        }

        Assert.True(stack.App.HasSynced);

        var kubectl = await ApplyWithKubectlAsync(stack, cases, failures);

        SecretLedger.Observe("operator log (bad manifests)", stack.Logs.All);
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} manifests went wrong:\n" + string.Join('\n', failures));

        // A bad manifest is the user's mistake, told on its status and Events: nothing the operator
        // should log as its own error (a crash or an unhandled exception would log one).
        Assert.True(stack.Logs.Errors == 0, $"the operator logged {stack.Logs.Errors} error(s) for bad manifests");

        var byReason = accepted.GroupBy(c => c.Reason!).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}");
        await new ScenarioFigures(
            "bad-input-manifests",
            "Bad input",
            "Malformed and hostile VirtualKey manifests",
            $"All {cases.Count} manifests were refused by the schema with the field named ({refused}) or parked at Ready=False naming the field ({accepted.Count}); the busiest bad key was reconciled {maxTotal} times in all and {maxDuringQuiet} times in {quiet.TotalSeconds:0}s of quiet, and the operator kept serving good keys.",
            true,
            [
                new("cases", cases.Count),
                new("refused by schema", refused),
                new("Ready=False by reason", string.Join(", ", byReason)),
                new("reconciles per bad key, max", maxTotal),
                new($"reconciles per bad key in {quiet.TotalSeconds:0}s of quiet, max", maxDuringQuiet),
                new("kubectl apply samples refused with the field named", kubectl),
                new("operator error log lines", stack.Logs.Errors),
            ]).WriteAsync(Cancel);
    }

    private static async Task CreateSecretsAsync(OperatorStack stack)
    {
        var providerKey = "sk-bad-input-provider-" + Guid.NewGuid().ToString("N");
        var otherTeamKey = "sk-bad-input-other-team-" + Guid.NewGuid().ToString("N");
        SecretLedger.Track(providerKey);
        SecretLedger.Track(otherTeamKey);
        await stack.CreateNamespaceAsync("other-team");
        await stack.CreateSecretAsync(OperatorStack.Ns, "openai-key", new Dictionary<string, string> { ["api-key"] = providerKey });
        await stack.CreateSecretAsync(OperatorStack.Ns, "empty-key", new Dictionary<string, string> { ["api-key"] = "" });
        await stack.CreateSecretAsync(OperatorStack.Ns, "other-key-name", new Dictionary<string, string> { ["apiKey"] = providerKey });
        await stack.CreateSecretAsync(OperatorStack.Ns, "unrelated-config", new Dictionary<string, string> { ["setting"] = "value" });
        await stack.CreateSecretAsync("other-team", "their-key", new Dictionary<string, string> { ["api-key"] = otherTeamKey });
    }

    /// <summary>A few schema cases through the real kubectl, to see that its error names the field too.</summary>
    private static async Task<int> ApplyWithKubectlAsync(OperatorStack stack, IReadOnlyList<ManifestCase> cases, List<string> failures)
    {
        var kubeconfig = Path.Combine(Path.GetTempPath(), "vk-bad-input-kubeconfig-" + Guid.NewGuid().ToString("N"));
        stack.Server.WriteKubeconfig(kubeconfig);
        var refusedWithField = 0;
        try
        {
            var samples = cases.Where(c => c.Outcome == ManifestOutcome.Schema)
                .Where(c => c.File.Contains("weight-zero", StringComparison.Ordinal)
                    || c.File.Contains("secretref-namespace-field", StringComparison.Ordinal)
                    || c.File.Contains("expires-word", StringComparison.Ordinal)
                    || c.File.Contains("provider-type-unknown", StringComparison.Ordinal))
                .ToList();
            Assert.Equal(4, samples.Count);
            foreach (var sample in samples)
            {
                var result = await ToolProcess.RunAsync(
                    ToolPaths.Kubectl,
                    ["--kubeconfig", kubeconfig, "apply", "-f", Path.Combine(ManifestCase.Folder, sample.File)],
                    timeout: TimeSpan.FromSeconds(60));
                SecretLedger.Observe($"kubectl apply {sample.File}", result.Stdout + result.Stderr);
                if (result.ExitCode == 0)
                {
                    failures.Add($"kubectl apply -f {sample.File} succeeded: {result.Stdout}");
                }
                else if (!result.Stderr.Contains(sample.Field, StringComparison.Ordinal))
                {
                    failures.Add($"kubectl apply -f {sample.File} failed without naming {sample.Field}: {result.Stderr}");
                }
                else
                {
                    refusedWithField++;
                }
            }
        }
        finally
        {
            File.Delete(kubeconfig);
        }

        return refusedWithField;
    }

    /// <summary>Whether a Status answer names the field: in a cause's field or in its message.</summary>
    private static bool NamesField(string body, string field)
    {
        JsonNode? status;
        try
        {
            status = JsonNode.Parse(body);
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }

        if (status?["details"]?["causes"] is JsonArray causes
            && causes.OfType<JsonObject>().Any(c => c["field"]?.GetValue<string>() == field))
        {
            return true;
        }

        return status?["message"]?.GetValue<string>() is { } message && message.Contains(field, StringComparison.Ordinal);
    }

    private static string Shorten(string text) => text.Length <= 400 ? text : text[..400] + "…";
}
