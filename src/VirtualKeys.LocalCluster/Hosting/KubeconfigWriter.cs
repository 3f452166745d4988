using System.Text;

namespace VirtualKeys.LocalCluster.Hosting;

/// <summary>Writes a kubeconfig for plain HTTP on loopback; kubectl and the C# client both read it.</summary>
internal static class KubeconfigWriter
{
    public const string ContextName = "vk-local-cluster";

    public static string Render(Uri server, string? token, string defaultNamespace)
    {
        var user = token is null ? "  user: {}" : $"  user:\n    token: {Quote(token)}";
        var builder = new StringBuilder();
        builder.Append("# Written by VirtualKeys.LocalCluster: an in-process API server for development and tests, not a production cluster.\n");
        builder.Append("apiVersion: v1\nkind: Config\n");
        builder.Append($"clusters:\n- name: {ContextName}\n  cluster:\n    server: {Quote(server.ToString().TrimEnd('/'))}\n");
        builder.Append($"users:\n- name: {ContextName}\n{user}\n");
        builder.Append($"contexts:\n- name: {ContextName}\n  context:\n    cluster: {ContextName}\n    user: {ContextName}\n    namespace: {Quote(defaultNamespace)}\n");
        builder.Append($"current-context: {ContextName}\npreferences: {{}}\n");
        return builder.ToString();
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
