using System.CommandLine;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Help;

// One line per command; each lives in Commands/.
var root = new RootCommand("vk: LLM virtual keys as Kubernetes resources.")
{
    CrdCommand.Create(),
};

root.WithExamples(
    "vk crd | kubectl apply -f -",
    "vk crd --output config");

return await root.ShowExamplesInHelp().Parse(args).InvokeAsync();
