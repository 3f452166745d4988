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

                try
                {
                    Directory.CreateDirectory(file.DirectoryName!);
                    await File.WriteAllTextAsync(file.FullName, markdown, cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new CliException($"cannot write {file.FullName}: {ex.Message}", ex);
                }

                stdout.WriteLine($"wrote {file.FullName}");
                return 0;
            });
        });

        return new Command("docs", "Documentation generated from the code")
        {
            reference,
        }.WithExamples($"vk docs reference --output {ReferenceGenerator.RelativePath}");
    }
}
