using System.CommandLine;
using VirtualKeys.Cli.Docs;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk docs</c>: documentation generated from the code.</summary>
internal static class DocsCommand
{
    public static Command Create()
    {
        var output = new Option<FileInfo?>("--output", "-o")
        {
            Description = "Write the reference to FILE instead of printing it",
            HelpName = "FILE",
        };
        var reference = new Command("reference", "The VirtualKey field reference (every field, type, default, validation and description) as Markdown, generated from the C# model")
        {
            output,
        }.WithExamples(
            "vk docs reference | less",
            $"vk docs reference --output {ReferenceGenerator.RelativePath}");
        reference.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("docs reference", stderr, cancellationToken, async () =>
            {
                var markdown = ReferenceGenerator.Generate();
                var file = parseResult.GetValue(output);
                if (file is null)
                {
                    await stdout.WriteAsync(markdown);
                    return 0;
                }

                await WriteAsync(file, markdown, cancellationToken);

                stdout.WriteLine($"wrote {file.FullName}");
                return 0;
            });
        });

        return new Command("docs", "Documentation generated from the code")
        {
            reference,
            CreateReliability(),
        }.WithExamples($"vk docs reference --output {ReferenceGenerator.RelativePath}", $"vk docs reliability --output {ReliabilityPage.RelativePath}");
    }

    private static Command CreateReliability()
    {
        var from = new Option<DirectoryInfo>("--from")
        {
            Description = "The folder of <id>.json figures the reliability suite wrote (VK_RELIABILITY_OUT)",
            HelpName = "DIR",
            DefaultValueFactory = _ => new DirectoryInfo(ReliabilityPage.DefaultFiguresDirectory),
        };
        var output = new Option<FileInfo?>("--output", "-o")
        {
            Description = "Write the page to FILE instead of printing it",
            HelpName = "FILE",
        };
        var reliability = new Command("reliability", "The reliability page (every fault, budget and input scenario with its measured figures) as Markdown, rendered from the figures the reliability suite wrote")
        {
            from,
            output,
        }.WithExamples(
            "scripts/reliability",
            $"vk docs reliability --from {ReliabilityPage.DefaultFiguresDirectory} --output {ReliabilityPage.RelativePath}");
        reliability.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("docs reliability", stderr, cancellationToken, async () =>
            {
                var scenarios = ReliabilityFiguresReader.ReadDirectory(parseResult.GetValue(from)!.FullName);
                var markdown = ReliabilityPage.Render(scenarios, ReliabilityMachine.Describe());
                var file = parseResult.GetValue(output);
                if (file is null)
                {
                    await stdout.WriteAsync(markdown);
                    return 0;
                }

                await WriteAsync(file, markdown, cancellationToken);
                stdout.WriteLine($"wrote {file.FullName} ({scenarios.Count} scenarios)");
                return 0;
            });
        });
        return reliability;
    }

    private static async Task WriteAsync(FileInfo file, string text, CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(file.DirectoryName!);
            await File.WriteAllTextAsync(file.FullName, text, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write {file.FullName}: {ex.Message}", ex);
        }
    }
}
