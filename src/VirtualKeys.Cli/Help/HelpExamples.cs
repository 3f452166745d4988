using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace VirtualKeys.Cli.Help;

/// <summary>Adds an "Examples:" section to <c>--help</c>, after the options.</summary>
internal static class HelpExamples
{
    private static readonly ConditionalWeakTable<Command, string[]> Examples = [];

    public static TCommand WithExamples<TCommand>(this TCommand command, params string[] examples)
        where TCommand : Command
    {
        Examples.AddOrUpdate(command, examples);
        return command;
    }

    /// <summary>Makes the root's (recursive) help option also print the examples of the command asked about.</summary>
    public static RootCommand ShowExamplesInHelp(this RootCommand root)
    {
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction standard)
            {
                help.Action = new ExamplesHelpAction(standard);
            }
        }

        return root;
    }

    private sealed class ExamplesHelpAction(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var exitCode = standard.Invoke(parseResult);
            if (Examples.TryGetValue(parseResult.CommandResult.Command, out var examples) && examples.Length > 0)
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var example in examples)
                {
                    output.WriteLine("  " + example);
                }

                output.WriteLine();
            }

            return exitCode;
        }
    }
}
