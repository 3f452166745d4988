using System.Globalization;
using Microsoft.Extensions.Configuration;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Operator.Options;

/// <summary>
/// Every setting of docs/configuration.md, read and checked in one place so a bad value stops the
/// process with one line naming it (in its environment-variable spelling, as the chart sets it).
/// </summary>
public sealed class OperatorSettings
{
    public const string DefaultUrls = "http://0.0.0.0:8080";

    public required string RegistryConnectionString { get; init; }

    public required string RegistryKekFile { get; init; }

    /// <summary>Registry:PreviousKekFiles: KEK files accepted for reading only, while a KEK replacement rolls out.</summary>
    public IReadOnlyList<string> RegistryPreviousKekFiles { get; init; } = [];

    public IReadOnlyList<string> WatchNamespaces { get; init; } = [];

    public int Workers { get; init; } = 4;

    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan TokenRotationGrace { get; init; } = TimeSpan.FromHours(1);

    public TimeSpan UsageSyncInterval { get; init; } = TimeSpan.FromSeconds(15);

    public double UsageSyncQps { get; init; } = 20;

    /// <summary>The most orphaned registry keys one full sweep revokes; a sweep that finds more revokes none (Operator__OrphanSweepLimit).</summary>
    public int OrphanSweepLimit { get; init; } = 10;

    public bool LeaderElectionEnabled { get; init; } = true;

    public string LeaseName { get; init; } = "virtual-key-operator";

    public string LeaseNamespace { get; init; } = "default";

    public string Identity { get; init; } = Environment.MachineName;

    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    public string? Kubeconfig { get; init; }

    public string Urls { get; init; } = DefaultUrls;

    /// <exception cref="OperatorSettingsException">A setting is missing or malformed.</exception>
    public static OperatorSettings FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = new OperatorSettings
        {
            RegistryConnectionString = Required(configuration, "Registry:ConnectionString"),
            RegistryKekFile = Required(configuration, "Registry:KekFile"),
            RegistryPreviousKekFiles = KeyEncryptionKeys.SplitPathList(configuration["Registry:PreviousKekFiles"]),
            WatchNamespaces = Namespaces(configuration["Operator:WatchNamespaces"]),
            Workers = Int(configuration, "Operator:Workers", 4),
            ResyncInterval = Duration(configuration, "Operator:ResyncInterval", TimeSpan.FromMinutes(10)),
            TokenRotationGrace = Duration(configuration, "Operator:TokenRotationGrace", TimeSpan.FromHours(1)),
            UsageSyncInterval = Duration(configuration, "Operator:UsageSyncInterval", TimeSpan.FromSeconds(15)),
            UsageSyncQps = Number(configuration, "Operator:UsageSyncQps", 20),
            OrphanSweepLimit = Int(configuration, "Operator:OrphanSweepLimit", 10),
            LeaderElectionEnabled = Bool(configuration, "LeaderElection:Enabled", true),
            LeaseName = Text(configuration, "LeaderElection:LeaseName") ?? "virtual-key-operator",
            LeaseNamespace = Text(configuration, "LeaderElection:LeaseNamespace") ?? DefaultLeaseNamespace(),
            Identity = Text(configuration, "LeaderElection:Identity") ?? DefaultIdentity(),
            LeaseDuration = Duration(configuration, "LeaderElection:LeaseDuration", TimeSpan.FromSeconds(15)),
            Kubeconfig = Text(configuration, "Kubernetes:Kubeconfig"),
            Urls = Text(configuration, "Urls") ?? DefaultUrls,
        };
        settings.Validate();
        return settings;
    }

    /// <exception cref="OperatorSettingsException">A value is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(RegistryConnectionString))
        {
            throw new OperatorSettingsException(Env("Registry:ConnectionString"), "is required", null);
        }

        if (string.IsNullOrWhiteSpace(RegistryKekFile))
        {
            throw new OperatorSettingsException(Env("Registry:KekFile"), "is required", null);
        }

        if (Workers is < 1 or > 256)
        {
            throw new OperatorSettingsException(Env("Operator:Workers"), "must be from 1 to 256", Workers.ToString(CultureInfo.InvariantCulture));
        }

        if (OrphanSweepLimit < 0)
        {
            throw new OperatorSettingsException(Env("Operator:OrphanSweepLimit"), "must be 0 or more", OrphanSweepLimit.ToString(CultureInfo.InvariantCulture));
        }

        Positive(ResyncInterval, "Operator:ResyncInterval", allowZero: true);
        Positive(TokenRotationGrace, "Operator:TokenRotationGrace", allowZero: true);
        Positive(UsageSyncInterval, "Operator:UsageSyncInterval", allowZero: false);
        if (!(UsageSyncQps > 0) || double.IsInfinity(UsageSyncQps))
        {
            throw new OperatorSettingsException(Env("Operator:UsageSyncQps"), "must be a number greater than 0", UsageSyncQps.ToString(CultureInfo.InvariantCulture));
        }

        foreach (var ns in WatchNamespaces)
        {
            if (!IsDnsLabel(ns))
            {
                throw new OperatorSettingsException(Env("Operator:WatchNamespaces"), "must be a comma-separated list of namespace names", ns);
            }
        }

        if (LeaderElectionEnabled)
        {
            if (LeaseDuration < TimeSpan.FromSeconds(3))
            {
                throw new OperatorSettingsException(Env("LeaderElection:LeaseDuration"), "must be at least 00:00:03", LeaseDuration.ToString());
            }

            if (string.IsNullOrWhiteSpace(LeaseName))
            {
                throw new OperatorSettingsException(Env("LeaderElection:LeaseName"), "must not be empty", LeaseName);
            }

            if (!IsDnsLabel(LeaseNamespace))
            {
                throw new OperatorSettingsException(Env("LeaderElection:LeaseNamespace"), "must be a namespace name (set it, or POD_NAMESPACE)", LeaseNamespace);
            }

            if (string.IsNullOrWhiteSpace(Identity))
            {
                throw new OperatorSettingsException(Env("LeaderElection:Identity"), "must not be empty", Identity);
            }
        }

        if (Kubeconfig is not null && !File.Exists(Kubeconfig))
        {
            throw new OperatorSettingsException(Env("Kubernetes:Kubeconfig"), "names no file", Kubeconfig);
        }

        foreach (var url in Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new OperatorSettingsException("Urls", "must be ';'-separated http URLs such as http://0.0.0.0:8080", url);
            }
        }
    }

    /// <summary>The environment-variable spelling of a setting, as docs/configuration.md and the chart write it.</summary>
    internal static string Env(string key) => key.Replace(":", "__", StringComparison.Ordinal);

    private static string Required(IConfiguration configuration, string key) =>
        Text(configuration, key) ?? throw new OperatorSettingsException(Env(key), "is required", null);

    private static string? Text(IConfiguration configuration, string key)
    {
        var value = configuration[key];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    private static IReadOnlyList<string> Namespaces(string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? []
            : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)];

    private static int Int(IConfiguration configuration, string key, int fallback)
    {
        var text = Text(configuration, key);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new OperatorSettingsException(Env(key), "must be a whole number", text);
    }

    private static double Number(IConfiguration configuration, string key, double fallback)
    {
        var text = Text(configuration, key);
        if (text is null)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new OperatorSettingsException(Env(key), "must be a number", text);
    }

    private static bool Bool(IConfiguration configuration, string key, bool fallback)
    {
        var text = Text(configuration, key);
        if (text is null)
        {
            return fallback;
        }

        return bool.TryParse(text, out var value)
            ? value
            : throw new OperatorSettingsException(Env(key), "must be true or false", text);
    }

    private static TimeSpan Duration(IConfiguration configuration, string key, TimeSpan fallback)
    {
        var text = Text(configuration, key);
        if (text is null)
        {
            return fallback;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new OperatorSettingsException(Env(key), "must be a duration such as 00:00:15", text);
    }

    private static void Positive(TimeSpan value, string key, bool allowZero)
    {
        if (value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero))
        {
            throw new OperatorSettingsException(Env(key), allowZero ? "must not be negative" : "must be greater than zero", value.ToString());
        }
    }

    private static bool IsDnsLabel(string value) =>
        value.Length is > 0 and <= 63
        && value.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
        && value[0] != '-' && value[^1] != '-';

    private static string DefaultLeaseNamespace()
    {
        var fromPod = Environment.GetEnvironmentVariable("POD_NAMESPACE");
        if (!string.IsNullOrWhiteSpace(fromPod))
        {
            return fromPod.Trim();
        }

        const string ServiceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
        return File.Exists(ServiceAccountNamespace) ? File.ReadAllText(ServiceAccountNamespace).Trim() : "default";
    }

    private static string DefaultIdentity()
    {
        var pod = Environment.GetEnvironmentVariable("POD_NAME");
        return string.IsNullOrWhiteSpace(pod) ? Environment.MachineName : pod.Trim();
    }
}
