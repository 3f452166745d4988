using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Docs;
using VirtualKeys.Cli.Tests.Support;

namespace VirtualKeys.Cli.Tests.Docs;

/// <summary><c>vk docs reliability</c> renders the figures files the reliability suite writes (the shape of its ScenarioFigures).</summary>
public sealed class ReliabilityPageTests : IDisposable
{
    private const string PostgresKilled =
        """
        {
          "id": "postgres-killed-under-load",
          "group": "Faults",
          "title": "PostgreSQL killed under steady load",
          "outcome": "412 of 412 requests answered during the outage; recorded usage equals admitted usage",
          "passed": true,
          "full": true,
          "measured_at": "2026-11-26T01:10:00+00:00",
          "figures": [
            { "name": "requests during outage", "value": 412 },
            { "name": "usage recorded vs admitted", "value": "412 / 412" },
            { "name": "catch-up after restart (s)", "value": 3.25 }
          ]
        }
        """;

    private const string BudgetRace =
        """
        {
          "id": "budget-race-200",
          "group": "Budgets",
          "title": "200 concurrent requests against a budget for about 20",
          "outcome": "spend exceeded the cap by 0.018 USD, within one reservation",
          "passed": true,
          "full": true,
          "measured_at": "2026-11-26T01:12:30+00:00",
          "figures": [
            { "name": "admitted", "value": 21 },
            { "name": "refused (code)", "value": "179 (budget_exhausted)" },
            { "name": "within bound", "value": true }
          ]
        }
        """;

    private readonly TemporaryDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Each_group_gets_a_table_with_a_row_per_scenario_and_its_figures()
    {
        Write("postgres-killed-under-load", PostgresKilled);
        Write("budget-race-200", BudgetRace);

        var result = await Vk.InvokeAsync(DocsCommand.Create(), "reliability", "--from", _folder.Path);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var lines = result.Stdout.Split('\n');
        Assert.Equal(
            "| **PostgreSQL killed under steady load**<br>`postgres-killed-under-load` | requests during outage: 412<br>usage recorded vs admitted: 412 / 412<br>catch-up after restart (s): 3.25 | 412 of 412 requests answered during the outage; recorded usage equals admitted usage | yes |",
            Assert.Single(lines, l => l.Contains("`postgres-killed-under-load`", StringComparison.Ordinal)));
        Assert.Equal(
            "| **200 concurrent requests against a budget for about 20**<br>`budget-race-200` | admitted: 21<br>refused (code): 179 (budget_exhausted)<br>within bound: yes | spend exceeded the cap by 0.018 USD, within one reservation | yes |",
            Assert.Single(lines, l => l.Contains("`budget-race-200`", StringComparison.Ordinal)));
        Assert.Equal(2, lines.Count(l => l == "| scenario | figures | outcome | pass |"));
        Assert.True(Array.IndexOf(lines, "## Faults") < Array.IndexOf(lines, "## Budgets"), "Faults come before Budgets");
    }

    [Fact]
    public async Task The_introduction_says_what_ran_when_and_the_page_says_how_to_regenerate_it()
    {
        Write("postgres-killed-under-load", PostgresKilled);
        Write("budget-race-200", BudgetRace);

        var result = await Vk.InvokeAsync(DocsCommand.Create(), "reliability", "--from", _folder.Path);

        Assert.Contains("- **Run:** 2 scenario(s) — Faults (1), Budgets (1) — in the **full** variants", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("all passed.", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("- **When:** 2026-11-26 01:10 to 2026-11-26 01:12 (UTC).", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("```sh\nscripts/reliability\n```", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_scenario_and_quick_figures_are_visible_and_pipes_do_not_break_the_table()
    {
        var failed = ReliabilityFiguresReader.Parse(
            BudgetRace.Replace("\"passed\": true", "\"passed\": false", StringComparison.Ordinal)
                .Replace("\"full\": true", "\"full\": false", StringComparison.Ordinal)
                .Replace("within one reservation", "a | b", StringComparison.Ordinal),
            "sample");
        var passed = ReliabilityFiguresReader.Parse(PostgresKilled, "sample");

        var page = ReliabilityPage.Render([passed, failed], "test machine");

        Assert.Contains("**1 failed**", page, StringComparison.Ordinal);
        Assert.Contains("**mixed** variants (1 full, 1 quick)", page, StringComparison.Ordinal);
        Assert.Contains("`budget-race-200` (quick) |", page, StringComparison.Ordinal);
        Assert.Contains("spend exceeded the cap by 0.018 USD, a \\| b | **no** |", page, StringComparison.Ordinal);
        Assert.Contains("- **On:** test machine.", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_writes_the_page()
    {
        Write("budget-race-200", BudgetRace);
        var file = Path.Combine(_folder.Path, "out", "reliability.md");

        var result = await Vk.InvokeAsync(DocsCommand.Create(), "reliability", "--from", _folder.Path, "--output", file);

        Assert.Equal((0, $"wrote {file} (1 scenarios)"), (result.ExitCode, result.Stdout.Trim()));
        Assert.StartsWith("# Reliability\n", await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_without_figures_or_with_a_foreign_file_is_refused_with_one_line()
    {
        var empty = await Vk.InvokeAsync(DocsCommand.Create(), "reliability", "--from", _folder.Path);
        Write("broken", "{\"id\": 3}");
        var broken = await Vk.InvokeAsync(DocsCommand.Create(), "reliability", "--from", _folder.Path);

        Assert.Equal((1, $"vk docs reliability: {_folder.Path} holds no scenario figures (*.json): run the reliability suite first (scripts/reliability)"), (empty.ExitCode, empty.Stderr.Trim()));
        Assert.Equal(1, broken.ExitCode);
        Assert.StartsWith($"vk docs reliability: {Path.Combine(_folder.Path, "broken.json")} is not a scenario's figures", broken.Stderr, StringComparison.Ordinal);
    }

    private void Write(string id, string json) => File.WriteAllText(Path.Combine(_folder.Path, id + ".json"), json);
}
