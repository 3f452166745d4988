using VirtualKeys.Cli.Tests.Support;

namespace VirtualKeys.Cli.Tests.Commands;

public class HelpTests
{
    [Theory]
    [InlineData("local-cluster", "vk local-cluster --kubeconfig")]
    [InlineData("create", "vk create team-a --provider-secret openai-key")]
    [InlineData("usage", "vk usage -A")]
    [InlineData("token", "vk token quickstart")]
    [InlineData("rotate", "vk rotate quickstart")]
    [InlineData("docs reference", "vk docs reference --output docs/reference/virtualkey.md")]
    [InlineData("docs reliability", "vk docs reliability --from artifacts/reliability --output docs/reliability.md")]
    [InlineData("registry rotate-keyring", "vk registry rotate-keyring --reencrypt")]
    [InlineData("registry replace-kek", "vk registry replace-kek --new-kek-file")]
    public async Task Every_command_s_help_ends_with_examples(string command, string example)
    {
        using var elsewhere = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(elsewhere.Path, [.. command.Split(' '), "--help"]);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var examples = result.Stdout.ReplaceLineEndings("\n").Split("Examples:\n");
        Assert.Equal(2, examples.Length);
        Assert.Contains("  " + example, examples[1], StringComparison.Ordinal);
    }
}
