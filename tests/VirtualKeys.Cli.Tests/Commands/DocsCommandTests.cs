using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Docs;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Model;
using VirtualKeys.Testing;

namespace VirtualKeys.Cli.Tests.Commands;

public class DocsCommandTests
{
    [Fact]
    public async Task The_committed_reference_is_exactly_what_the_model_generates()
    {
        var result = await Vk.InvokeAsync(DocsCommand.Create(), "reference");

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var committed = await File.ReadAllTextAsync(Path.Combine(ToolPaths.RepositoryRoot, ReferenceGenerator.RelativePath), TestContext.Current.CancellationToken);
        Assert.True(
            committed == result.Stdout,
            $"{ReferenceGenerator.RelativePath} is out of date: run dotnet run --project src/VirtualKeys.Cli -- docs reference --output {ReferenceGenerator.RelativePath}");
    }

    [Theory]
    [InlineData("spec.providers[].secretRef.name")]
    [InlineData("spec.limits.requestsPerMinute")]
    [InlineData("spec.budget.maxCostUsd")]
    [InlineData("status.usage.costUsd")]
    [InlineData("status.conditions[].reason")]
    public void The_reference_has_a_row_for_every_field(string path)
    {
        var markdown = ReferenceGenerator.Generate();

        Assert.Contains($"| `{path}` |", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void The_reference_states_defaults_and_validation_and_every_condition_reason()
    {
        var lines = ReferenceGenerator.Generate().Split('\n');

        Assert.Contains(lines, line => line.StartsWith("| `spec.providers[].weight` | integer (int32) | `1` | value 1–1000 |", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("| `spec.budget.period` | enum: `Daily`, `Weekly`, `Monthly`, `Total` | `Monthly` |", StringComparison.Ordinal));
        Assert.All(
            typeof(ConditionReasons).GetFields().Select(field => (string)field.GetRawConstantValue()!),
            reason => Assert.Contains(lines, line => line.StartsWith($"| `{reason}` | ", StringComparison.Ordinal) && line.Length > reason.Length + 10));
    }

    [Fact]
    public async Task Output_writes_the_file()
    {
        using var folder = new TemporaryDirectory();
        var file = Path.Combine(folder.Path, "docs", "reference", "virtualkey.md");

        var result = await Vk.InvokeAsync(DocsCommand.Create(), "reference", "--output", file);

        Assert.Equal((0, $"wrote {file}"), (result.ExitCode, result.Stdout.Trim()));
        Assert.Equal(ReferenceGenerator.Generate(), await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken));
    }
}
