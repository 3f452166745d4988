using System.CommandLine;
using VirtualKeys.Cli.Demo;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk demo</c>: the whole product on loopback, showing a key's default model and RPM limit at work.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var postgres = new Option<string?>("--postgres")
        {
            Description = "Use this PostgreSQL server (an Npgsql connection string) instead of starting a throwaway one; the registry goes into its schema vk",
            HelpName = "CONNSTR",
        };
        var kubeconfig = new Option<FileInfo?>("--kubeconfig")
        {
            Description = "Use the cluster of this kubeconfig (namespace vk-demo, CRD installed) instead of the local API server",
            HelpName = "FILE",
        };
        var keep = new Option<bool>("--keep") { Description = "Leave everything running afterwards, print the kubeconfig and the sidecar URL, stop on Ctrl+C" };
        var json = new Option<bool>("--json") { Description = "Progress on stderr; end stdout with one JSON line summarising the run" };
        var verbose = new Option<bool>("--verbose") { Description = "Also show the operator's log" };
        var requests = new Option<int?>("--requests")
        {
            Description = "How many requests to send (default: twice the key's RPM limit plus one)",
            HelpName = "N",
        };
        requests.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1 or > 1000)
            {
                result.AddError("--requests must be between 1 and 1000.");
            }
        });

        var command = new Command(
            "demo",
            "Run PostgreSQL, a local API server, the operator, the sidecar and a mock provider on loopback; apply examples/quickstart; " +
            "send requests without a model through the sidecar and show the default model, the 429s past the RPM limit, and the usage the operator writes back")
        {
            postgres,
            kubeconfig,
            keep,
            json,
            verbose,
            requests,
        }.WithExamples(
            "vk demo",
            "vk demo --keep",
            "vk demo --json | tail -n 1 | jq .",
            "vk demo --postgres 'Host=127.0.0.1;Username=postgres;Database=vk_demo'");
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            var options = new DemoOptions(
                parseResult.GetValue(postgres),
                parseResult.GetValue(kubeconfig),
                parseResult.GetValue(keep),
                parseResult.GetValue(json),
                parseResult.GetValue(verbose),
                parseResult.GetValue(requests));
            await using var runner = new DemoRunner(options, stdout, stderr);
            return await CommandRunner.RunAsync("demo", stderr, cancellationToken, () => runner.RunAsync(cancellationToken));
        });
        return command;
    }
}
