using System.CommandLine;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Help;

// One line per command; each lives in Commands/.
var root = new RootCommand("vk: LLM virtual keys as Kubernetes resources.")
{
    DemoCommand.Create(),
    CrdCommand.Create(),
    LocalClusterCommand.Create(),
    CreateCommand.Create(),
    UsageCommand.Create(),
    TokenCommand.Create(),
    RotateCommand.Create(),
    RegistryCommand.Create(),
    DocsCommand.Create(),
};

root.WithExamples(
    "vk demo",
    "vk crd | kubectl apply -f -",
    "vk crd --output config",
    "vk local-cluster --kubeconfig /tmp/vk.kubeconfig",
    "vk create team-a --provider-secret openai-key --provider-type OpenAI --default-model gpt-4o-mini --rpm 60 --apply",
    "vk usage -A",
    "vk token team-a",
    "vk rotate team-a");

// Long enough for commands that stop servers and processes on Ctrl+C to finish cleaning up.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(20) };
return await root.ShowExamplesInHelp().Parse(args).InvokeAsync(invocation);
