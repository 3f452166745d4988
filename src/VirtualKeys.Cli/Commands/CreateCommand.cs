using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.Cli.Manifests;
using VirtualKeys.Cli.Running;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk create</c>: a VirtualKey manifest from options, printed or applied.</summary>
internal static class CreateCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = "The VirtualKey's name; its token goes into the Secret NAME-token" };
        var providerSecret = new Option<string>("--provider-secret")
        {
            Description = $"The Secret (and data key, default {VirtualKeyDraft.DefaultSecretKey}) in the same namespace that holds the provider's API key",
            HelpName = "NAME[:KEY]",
            Required = true,
        };
        var providerType = new Option<ProviderType>("--provider-type")
        {
            Description = "The provider's API",
            Required = true,
        };
        var baseUrl = new Option<string?>("--base-url")
        {
            Description = "The provider's base URL; required for AzureOpenAI and OpenAICompatible",
            HelpName = "URL",
        };
        var defaultModel = new Option<string>("--default-model")
        {
            Description = "The model for requests that name none",
            HelpName = "MODEL",
            Required = true,
        };
        var allowedModels = new Option<string[]>("--allowed-model")
        {
            Description = "A model requests may use (repeat for more); none means every model",
            HelpName = "MODEL",
        };
        var rpm = PositiveOption("--rpm", "Requests per minute");
        var tpm = PositiveOption("--tpm", "Input plus output tokens per minute");
        var maxParallel = PositiveOption("--max-parallel", "Requests in flight at once");
        var budget = new Option<string?>("--budget")
        {
            Description = "The most the key may spend per period, in US dollars, e.g. 25 or 12.50",
            HelpName = "USD",
        };
        var budgetPeriod = new Option<BudgetPeriod?>("--budget-period")
        {
            Description = "When the budget resets (default Monthly)",
        };
        var expiresAt = new Option<DateTimeOffset?>("--expires-at")
        {
            Description = "When the key stops working, RFC 3339, e.g. 2026-12-31T00:00:00Z",
            HelpName = "TIME",
            CustomParser = ParseTime,
        };
        var apply = new Option<bool>("--apply") { Description = "Create the VirtualKey in the cluster (or update its spec) instead of printing it" };
        var cluster = new ClusterOptions();

        var command = cluster.AddTo(new Command("create", "Print a VirtualKey manifest built from options, or apply it with --apply")
        {
            name,
            providerSecret,
            providerType,
            baseUrl,
            defaultModel,
            allowedModels,
            rpm,
            tpm,
            maxParallel,
            budget,
            budgetPeriod,
            expiresAt,
            apply,
        }).WithExamples(
            "vk create team-a --provider-secret openai-key --provider-type OpenAI --default-model gpt-4o-mini --rpm 60 --budget 25 > team-a.yaml",
            "vk create local --provider-secret demo-provider-key:apiKey --provider-type OpenAICompatible --base-url http://127.0.0.1:18080/v1 --default-model gpt-4o-mini --rpm 5 --apply",
            "vk create trial -n sandbox --provider-secret anthropic-key --provider-type Anthropic --default-model claude-3-5-haiku-latest --budget 5 --budget-period Total --expires-at 2026-12-31T00:00:00Z --apply");

        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            var draft = new VirtualKeyDraft(
                parseResult.GetValue(name)!,
                parseResult.GetValue(cluster.Namespace),
                parseResult.GetValue(providerSecret)!,
                parseResult.GetValue(providerType),
                parseResult.GetValue(baseUrl),
                parseResult.GetValue(defaultModel)!,
                parseResult.GetValue(allowedModels) ?? [],
                parseResult.GetValue(rpm),
                parseResult.GetValue(tpm),
                parseResult.GetValue(maxParallel),
                parseResult.GetValue(budget),
                parseResult.GetValue(budgetPeriod),
                parseResult.GetValue(expiresAt));
            return CommandRunner.RunAsync("create", stderr, cancellationToken, () => parseResult.GetValue(apply)
                ? ApplyAsync(draft, cluster, parseResult, stdout, stderr, cancellationToken)
                : Task.FromResult(Print(draft, stdout, stderr)));
        });
        return command;
    }

    private static int Print(VirtualKeyDraft draft, TextWriter stdout, TextWriter stderr)
    {
        var (virtualKey, problems) = draft.Build();
        if (ReportProblems(problems, stderr))
        {
            return CommandRunner.Failure;
        }

        stdout.Write(ManifestYaml.Write(virtualKey));
        return 0;
    }

    private static async Task<int> ApplyAsync(VirtualKeyDraft draft, ClusterOptions cluster, ParseResult parseResult, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var (virtualKey, problems) = draft.Build();
        if (ReportProblems(problems, stderr))
        {
            return CommandRunner.Failure;
        }

        using var connection = cluster.Connect(parseResult);
        var ns = connection.Namespace;
        virtualKey.Metadata.NamespaceProperty = ns;
        var outcome = await connection.VirtualKeys.CreateOrUpdateAsync(virtualKey, cancellationToken);
        stdout.WriteLine($"virtualkey {ns}/{virtualKey.Metadata.Name} {outcome}");

        var secretRef = virtualKey.Spec.Providers[0].SecretRef;
        var secret = await connection.VirtualKeys.FindSecretAsync(ns, secretRef.Name, cancellationToken);
        if (secret is null)
        {
            stderr.WriteLine($"vk create: warning: Secret {ns}/{secretRef.Name} does not exist yet; the key is not Ready until it holds the provider's API key under {secretRef.Key}");
        }
        else if (secret.Data?.ContainsKey(secretRef.Key) != true && secret.StringData?.ContainsKey(secretRef.Key) != true)
        {
            stderr.WriteLine($"vk create: warning: Secret {ns}/{secretRef.Name} has no key {secretRef.Key}; the key is not Ready until it does");
        }

        stdout.WriteLine($"The operator issues its token into the Secret {ns}/{virtualKey.GetTokenSecretName()}; print it with: vk token {virtualKey.Metadata.Name} -n {ns}");
        return 0;
    }

    private static bool ReportProblems(IReadOnlyList<string> problems, TextWriter stderr)
    {
        foreach (var problem in problems)
        {
            stderr.WriteLine($"vk create: {problem}");
        }

        return problems.Count > 0;
    }

    // Zero and negative values pass to the validator, whose message names the field.
    private static Option<int?> PositiveOption(string name, string description) =>
        new(name) { Description = description, HelpName = "N" };

    private static DateTimeOffset? ParseTime(ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        result.AddError($"--expires-at must be a time such as 2026-12-31T00:00:00Z, not '{text}'.");
        return null;
    }
}
