using System.CommandLine;
using System.Text;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.Cli.Running;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Commands;

/// <summary>
/// <c>vk token</c>: the one place the CLI prints a token, on purpose and to stdout only, so that it can
/// be piped into a client's configuration; messages never contain it.
/// </summary>
internal static class TokenCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = "The VirtualKey" };
        var cluster = new ClusterOptions();
        var command = cluster.AddTo(new Command("token", "Print the VirtualKey's token (from its token Secret) to stdout")
        {
            name,
        }).WithExamples(
            "vk token quickstart",
            "export OPENAI_API_KEY=$(vk token team-a -n team-a)");
        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("token", stderr, cancellationToken, async () =>
            {
                using var connection = cluster.Connect(parseResult);
                var token = await ReadAsync(connection, parseResult.GetValue(name)!, cancellationToken);
                stdout.WriteLine(token);
                return 0;
            });
        });
        return command;
    }

    private static async Task<string> ReadAsync(ClusterConnection connection, string name, CancellationToken cancellationToken)
    {
        var ns = connection.Namespace;
        var virtualKey = await connection.VirtualKeys.GetAsync(ns, name, cancellationToken);
        var secretName = virtualKey.Status?.TokenSecretName is { Length: > 0 } issued ? issued : virtualKey.GetTokenSecretName();
        var secret = await connection.VirtualKeys.FindSecretAsync(ns, secretName, cancellationToken);
        if (secret?.Data is not null && secret.Data.TryGetValue(WellKnown.TokenSecretKey, out var bytes) && bytes.Length > 0)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var ready = virtualKey.Status?.Conditions?.FirstOrDefault(condition => condition.Type == ConditionTypes.Ready);
        var why = ready is null
            ? "the operator has not reconciled the key yet (is it running?)"
            : $"Ready is {ready.Status} ({ready.Reason}): {ready.Message}";
        var what = secret is null ? $"the Secret {ns}/{secretName} does not exist" : $"the Secret {ns}/{secretName} has no {WellKnown.TokenSecretKey}";
        throw new CliException($"virtualkey {ns}/{name} has no token yet: {what}; {why}");
    }
}
