namespace VirtualKeys.Deploy.Tests.Support;

internal static class DeployTools
{
    /// <summary>helm template and kubectl kustomize render offline; two minutes only guards against a hang.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
}
