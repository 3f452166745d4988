using k8s;
using Microsoft.Extensions.Configuration;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();

OperatorSettings settings;
KubernetesClientConfiguration kubernetes;
try
{
    settings = OperatorSettings.FromConfiguration(configuration);
    kubernetes = settings.Kubeconfig is not null
        ? KubernetesClientConfiguration.BuildConfigFromConfigFile(settings.Kubeconfig)
        : KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile();
}
catch (OperatorSettingsException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}
catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or FileNotFoundException)
{
    await Console.Error.WriteLineAsync($"Invalid setting {OperatorSettings.Env("Kubernetes:Kubeconfig")}: no usable kubeconfig and not running in a cluster ({e.Message.ReplaceLineEndings(" ")}).");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

try
{
    await using var app = await OperatorApp.BuildAsync(settings, kubernetes, cancellationToken: stop.Token);
    await app.RunAsync(stop.Token);
    return 0;
}
catch (Exception e) when (e is RegistryUnavailableException or RegistrySchemaException or RegistryProtectionException)
{
    await Console.Error.WriteLineAsync(e.Message.ReplaceLineEndings(" "));
    return 3;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 0;
}
