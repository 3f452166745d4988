using System.CommandLine;
using System.Globalization;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.Cli.Output;
using VirtualKeys.Cli.Running;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk usage</c>: usage and spend per key, as the operator last wrote them into status.</summary>
internal static class UsageCommand
{
    private const string None = "-";

    public static Command Create(TimeProvider? timeProvider = null)
    {
        var clock = timeProvider ?? TimeProvider.System;
        var allNamespaces = new Option<bool>("--all-namespaces", "-A") { Description = "List the keys of every namespace" };
        var cluster = new ClusterOptions();
        var command = cluster.AddTo(new Command("usage", "Show requests, tokens, spend and rejections per VirtualKey in the current budget period, from the keys' status")
        {
            allNamespaces,
        }).WithExamples(
            "vk usage",
            "vk usage -n team-a",
            "vk usage -A");
        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("usage", stderr, cancellationToken, async () =>
            {
                using var connection = cluster.Connect(parseResult);
                var all = parseResult.GetValue(allNamespaces);
                var keys = await connection.VirtualKeys.ListAsync(all ? null : connection.Namespace, cancellationToken);
                if (keys.Count == 0)
                {
                    stderr.WriteLine(all ? "No VirtualKeys found." : $"No VirtualKeys found in namespace {connection.Namespace}.");
                    return 0;
                }

                Render(keys, clock.GetUtcNow()).Write(stdout);
                return 0;
            });
        });
        return command;
    }

    internal static TextTable Render(IEnumerable<VirtualKey> keys, DateTimeOffset now)
    {
        var table = new TextTable("NAMESPACE", "NAME", "READY", "REQUESTS", "INPUT", "OUTPUT", "SPEND", "BUDGET", "REJECTED", "LAST-REQUEST");
        foreach (var key in keys)
        {
            var usage = key.Status?.Usage;
            table.Add(
                key.Metadata.NamespaceProperty ?? "",
                key.Metadata.Name ?? "",
                Ready(key),
                Number(usage?.Requests),
                Number(usage?.InputTokens),
                Number(usage?.OutputTokens),
                usage?.CostUsd is { Length: > 0 } cost ? "$" + cost : None,
                key.Spec.Budget is { } budget ? $"${budget.MaxCostUsd}/{budget.Period}" : None,
                Rejected(usage?.Rejections),
                usage?.LastRequestTime is { } last ? Durations.Short(now - last) + " ago" : None);
        }

        return table;
    }

    private static string Ready(VirtualKey key)
    {
        var ready = key.Status?.Conditions?.FirstOrDefault(condition => condition.Type == ConditionTypes.Ready);
        return ready is null ? "Unknown"
            : ready.Status == "True" ? "True"
            : $"{ready.Status} ({ready.Reason})";
    }

    private static string Number(long? value) => value is null ? None : value.Value.ToString(CultureInfo.InvariantCulture);

    private static string Rejected(IDictionary<string, long>? rejections)
    {
        var causes = rejections?.Where(entry => entry.Value > 0).OrderBy(entry => entry.Key, StringComparer.Ordinal).ToList() ?? [];
        if (causes.Count == 0)
        {
            return "0";
        }

        var total = causes.Sum(entry => entry.Value).ToString(CultureInfo.InvariantCulture);
        return $"{total} ({string.Join(',', causes.Select(entry => string.Create(CultureInfo.InvariantCulture, $"{entry.Key}={entry.Value}")))})";
    }
}
