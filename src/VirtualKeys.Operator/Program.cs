using k8s;
using Microsoft.Extensions.Configuration;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry.Connections;

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();

OperatorSettings settings;
try
{
    settings = OperatorSettings.FromConfiguration(configuration);
}
catch (OperatorSettingsException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}

KubernetesClientConfiguration kubernetes;
try
{
    kubernetes = settings.Kubeconfig is not null
        ? KubernetesClientConfiguration.BuildConfigFromConfigFile(settings.Kubeconfig)
        : KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile();
}
catch (Exception e)
{
    // Whatever the client library throws for an unreadable kubeconfig, the fix is the same setting.
    await Console.Error.WriteLineAsync(
        $"Invalid setting {OperatorSettings.Env("Kubernetes:Kubeconfig")}: no usable kubeconfig and not running in a cluster ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}).");
    return 2;
}

// A registry server that is not there yet is waited for (no probe answers meanwhile, so the pod's
// startup probe bounds the wait); SIGTERM or Ctrl+C while waiting ends the process with 0. Once open,
// the host's console lifetime turns them into a graceful stop (drain, then release the lease).
try
{
    var opened = await RegistryAtStart.OpenAsync(
        ct => OperatorApp.BuildAsync(
            settings,
            kubernetes,
            new OperatorAppOptions { LoggingConfiguration = configuration.GetSection("Logging") },
            ct),
        (e, wait) => Console.Error.WriteLineAsync(
            $"The registry cannot be opened yet: {e.Message} Trying again in about {wait.TotalSeconds:0} s; not reconciling until it opens."));
    if (opened is null)
    {
        return 0;
    }

    await using var app = opened;
    await app.RunAsync(CancellationToken.None);
    return 0;
}
catch (Exception e) when (RegistryFailure.Describe(e) is { } reason)
{
    await Console.Error.WriteLineAsync(reason);
    return 3;
}
