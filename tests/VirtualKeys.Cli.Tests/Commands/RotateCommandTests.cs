using System.Globalization;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Tests.Commands;

public sealed class RotateCommandTests(LocalClusterFixture cluster) : IClassFixture<LocalClusterFixture>
{
    [Fact]
    public async Task Rotate_gives_the_annotation_a_new_value_each_time_and_keeps_other_annotations()
    {
        var ns = await cluster.CreateNamespaceAsync("rotate");
        var key = TestKeys.New(ns, "team-a");
        key.Metadata.Annotations = new Dictionary<string, string> { ["owner"] = "team-a@example.com" };
        await TestKeys.CreateAsync(cluster.Client, key);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 20, 0, 0, TimeSpan.Zero));

        var first = await Vk.InvokeAsync(RotateCommand.Create(clock), "team-a", "--kubeconfig", cluster.Kubeconfig, "-n", ns);
        var afterFirst = (await TestKeys.GetAsync(cluster.Client, ns, "team-a")).Metadata.Annotations;
        clock.Advance(TimeSpan.FromSeconds(1));
        var second = await Vk.InvokeAsync(RotateCommand.Create(clock), "team-a", "--kubeconfig", cluster.Kubeconfig, "-n", ns);
        var afterSecond = (await TestKeys.GetAsync(cluster.Client, ns, "team-a")).Metadata.Annotations;

        Assert.Equal((0, 0, ""), (first.ExitCode, second.ExitCode, first.Stderr));
        Assert.Equal("2026-11-25T20:00:00.0000000Z", afterFirst[WellKnown.RotateTokenAnnotation]);
        Assert.Equal("2026-11-25T20:00:01.0000000Z", afterSecond[WellKnown.RotateTokenAnnotation]);
        Assert.Equal("team-a@example.com", afterSecond["owner"]);
        Assert.Contains($"Secret {ns}/team-a-token", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("old token keeps working", first.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotate_leaves_the_spec_alone()
    {
        var ns = await cluster.CreateNamespaceAsync("rotate");
        var created = await TestKeys.CreateAsync(cluster.Client, TestKeys.New(ns, "steady"));

        await Vk.InvokeAsync(RotateCommand.Create(), "steady", "--kubeconfig", cluster.Kubeconfig, "-n", ns);
        var rotated = await TestKeys.GetAsync(cluster.Client, ns, "steady");

        Assert.Equal(created.Metadata.Generation, rotated.Metadata.Generation);
        Assert.True(DateTimeOffset.TryParse(rotated.Metadata.Annotations[WellKnown.RotateTokenAnnotation], CultureInfo.InvariantCulture, out _));
    }

    [Fact]
    public async Task Rotating_a_missing_key_fails_with_its_name_on_stderr()
    {
        var ns = await cluster.CreateNamespaceAsync("rotate");

        var result = await Vk.InvokeAsync(RotateCommand.Create(), "foo", "--kubeconfig", cluster.Kubeconfig, "-n", ns);

        Assert.Equal((1, ""), (result.ExitCode, result.Stdout));
        Assert.Equal($"vk rotate: virtualkey {ns}/foo not found", result.Stderr.Trim());
    }
}
