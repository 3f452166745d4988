using System.CommandLine;

namespace VirtualKeys.Cli.Kubernetes;

/// <summary>The options every command that talks to a cluster shares, as kubectl spells them.</summary>
internal sealed class ClusterOptions
{
    public Option<FileInfo?> Kubeconfig { get; } = new("--kubeconfig")
    {
        Description = "The kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)",
        HelpName = "FILE",
    };

    public Option<string?> Namespace { get; } = new("--namespace", "-n")
    {
        Description = "The namespace (default: the kubeconfig context's, else default)",
        HelpName = "NS",
    };

    public TCommand AddTo<TCommand>(TCommand command)
        where TCommand : Command
    {
        command.Options.Add(Kubeconfig);
        command.Options.Add(Namespace);
        return command;
    }

    /// <summary>A client for the cluster the options name; nothing is sent until it is used.</summary>
    public ClusterConnection Connect(ParseResult parseResult)
    {
        var configuration = KubeconfigLoader.Load(parseResult.GetValue(Kubeconfig));
        var ns = parseResult.GetValue(Namespace);
        return new ClusterConnection(configuration, string.IsNullOrEmpty(ns) ? configuration.Namespace : ns);
    }
}
