using k8s;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Kubernetes;

/// <summary>
/// Reads a kubeconfig as kubectl does. Unlike the official C# client, it accepts a context whose user
/// has no credentials when the server is plain HTTP on loopback, as the local cluster's kubeconfig
/// is (kubectl never sends a token over plain HTTP, so that server cannot ask for one).
/// </summary>
internal static class KubeconfigLoader
{
    public static KubernetesClientConfiguration Load(FileInfo? file)
    {
        if (file is not null && !file.Exists)
        {
            throw new CliException($"kubeconfig {file.FullName} does not exist");
        }

        try
        {
            return file is null
                ? KubernetesClientConfiguration.BuildDefaultConfig()
                : KubernetesClientConfiguration.BuildConfigFromConfigFile(file);
        }
        catch (KubeConfigException) when (AnonymousLoopback(file ?? DefaultFile()) is { } anonymous)
        {
            return anonymous;
        }
    }

    private static FileInfo? DefaultFile()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("KUBECONFIG")?
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault();
        var path = fromEnvironment ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
        return File.Exists(path) ? new FileInfo(path) : null;
    }

    private static KubernetesClientConfiguration? AnonymousLoopback(FileInfo? file)
    {
        if (file is null)
        {
            return null;
        }

        var config = KubernetesClientConfiguration.LoadKubeConfig(file);
        var context = config.Contexts?.FirstOrDefault(c => c.Name == config.CurrentContext)?.ContextDetails;
        var cluster = config.Clusters?.FirstOrDefault(c => c.Name == context?.Cluster)?.ClusterEndpoint;
        var user = config.Users?.FirstOrDefault(u => u.Name == context?.User)?.UserCredentials;
        if (context is null
            || !Uri.TryCreate(cluster?.Server, UriKind.Absolute, out var server)
            || server.Scheme != Uri.UriSchemeHttp
            || !server.IsLoopback
            || HasCredentials(user))
        {
            return null;
        }

        return new KubernetesClientConfiguration
        {
            Host = server.ToString().TrimEnd('/'),
            Namespace = context.Namespace,
        };
    }

    private static bool HasCredentials(UserCredentials? user) =>
        user is not null
        && (!string.IsNullOrEmpty(user.Token)
            || !string.IsNullOrEmpty(user.ClientCertificateData)
            || !string.IsNullOrEmpty(user.ClientCertificate)
            || !string.IsNullOrEmpty(user.UserName)
            || user.ExternalExecution is not null
            || user.AuthProvider is not null);
}
