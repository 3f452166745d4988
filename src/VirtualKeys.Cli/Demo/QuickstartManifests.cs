using System.Reflection;
using k8s;
using k8s.Models;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// examples/quickstart, built into the CLI (the csproj embeds the very files), so the demo applies
/// what a user would apply and works from any directory.
/// </summary>
internal static class QuickstartManifests
{
    /// <summary>The mock provider's address in examples/quickstart/virtualkey.yaml.</summary>
    public const int MockProviderPort = 18080;

    private const string ResourcePrefix = "VirtualKeys.Cli.Demo.quickstart.";

    public static (IReadOnlyList<V1Secret> Secrets, VirtualKey VirtualKey) Load()
    {
        var typeMap = new Dictionary<string, Type> { [$"{WellKnown.ApiVersion}/{WellKnown.Kind}"] = typeof(VirtualKey) };
        var secrets = new List<V1Secret>();
        VirtualKey? virtualKey = null;
        var assembly = Assembly.GetExecutingAssembly();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            foreach (var document in KubernetesYaml.LoadAllFromString(reader.ReadToEnd(), typeMap))
            {
                switch (document)
                {
                    case V1Secret secret:
                        secrets.Add(secret);
                        break;
                    case VirtualKey key:
                        virtualKey = key;
                        break;
                }
            }
        }

        return (secrets, virtualKey ?? throw new InvalidOperationException("the CLI was built without examples/quickstart/virtualkey.yaml"));
    }

    /// <summary>Points providers that expect the mock on its usual port at where it really listens.</summary>
    public static void UseMockProvider(VirtualKey virtualKey, string mockOpenAIBaseUrl)
    {
        foreach (var provider in virtualKey.Spec.Providers)
        {
            if (Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out var url) && url.IsLoopback && url.Port == MockProviderPort)
            {
                provider.BaseUrl = mockOpenAIBaseUrl;
            }
        }
    }
}
