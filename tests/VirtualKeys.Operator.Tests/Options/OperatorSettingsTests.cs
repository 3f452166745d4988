using Microsoft.Extensions.Configuration;
using VirtualKeys.Operator.Options;

namespace VirtualKeys.Operator.Tests.Options;

public sealed class OperatorSettingsTests
{
    private static readonly Dictionary<string, string?> Required = new()
    {
        ["Registry:ConnectionString"] = "Host=db;Database=vk",
        ["Registry:KekFile"] = "/kek/key",
    };

    [Fact]
    public void Defaults_FollowTheConfigurationDocument()
    {
        var settings = OperatorSettings.FromConfiguration(Configuration());

        Assert.Empty(settings.WatchNamespaces);
        Assert.Equal(4, settings.Workers);
        Assert.Equal(TimeSpan.FromMinutes(10), settings.ResyncInterval);
        Assert.Equal(TimeSpan.FromHours(1), settings.TokenRotationGrace);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.UsageSyncInterval);
        Assert.Equal(20, settings.UsageSyncQps);
        Assert.True(settings.LeaderElectionEnabled);
        Assert.Equal("virtual-key-operator", settings.LeaseName);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.LeaseDuration);
        Assert.Equal("http://0.0.0.0:8080", settings.Urls);
    }

    [Fact]
    public void Settings_AreReadFromTheirDocumentedNames()
    {
        var settings = OperatorSettings.FromConfiguration(Configuration(new()
        {
            ["Operator:WatchNamespaces"] = "team-a, team-b",
            ["Operator:Workers"] = "8",
            ["Operator:TokenRotationGrace"] = "00:05:00",
            ["Operator:UsageSyncQps"] = "2.5",
            ["LeaderElection:Enabled"] = "false",
            ["LeaderElection:Identity"] = "pod-1",
        }));

        Assert.Equal(["team-a", "team-b"], settings.WatchNamespaces);
        Assert.Equal(8, settings.Workers);
        Assert.Equal(TimeSpan.FromMinutes(5), settings.TokenRotationGrace);
        Assert.Equal(2.5, settings.UsageSyncQps);
        Assert.False(settings.LeaderElectionEnabled);
        Assert.Equal("pod-1", settings.Identity);
    }

    [Theory]
    [InlineData("Operator:Workers", "many", "Operator__Workers")]
    [InlineData("Operator:Workers", "0", "Operator__Workers")]
    [InlineData("Operator:ResyncInterval", "ten minutes", "Operator__ResyncInterval")]
    [InlineData("Operator:UsageSyncQps", "0", "Operator__UsageSyncQps")]
    [InlineData("Operator:WatchNamespaces", "Team_A", "Operator__WatchNamespaces")]
    [InlineData("LeaderElection:Enabled", "yes", "LeaderElection__Enabled")]
    [InlineData("LeaderElection:LeaseDuration", "00:00:01", "LeaderElection__LeaseDuration")]
    [InlineData("Kubernetes:Kubeconfig", "/no/such/kubeconfig", "Kubernetes__Kubeconfig")]
    [InlineData("Urls", "ftp://x", "Urls")]
    public void InvalidSetting_StopsWithOneLineNamingIt(string key, string value, string named)
    {
        var e = Assert.Throws<OperatorSettingsException>(() => OperatorSettings.FromConfiguration(Configuration(new() { [key] = value })));

        Assert.StartsWith($"Invalid setting {named}:", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MissingConnectionString_IsNamed()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Registry:KekFile"] = "/k" }).Build();

        var e = Assert.Throws<OperatorSettingsException>(() => OperatorSettings.FromConfiguration(configuration));

        Assert.Equal("Invalid setting Registry__ConnectionString: is required.", e.Message);
    }

    private static IConfiguration Configuration(Dictionary<string, string?>? extra = null) =>
        new ConfigurationBuilder().AddInMemoryCollection(Required.Concat(extra ?? [])).Build();
}
