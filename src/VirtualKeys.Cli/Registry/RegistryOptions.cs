using System.CommandLine;
using VirtualKeys.Cli.Running;

namespace VirtualKeys.Cli.Registry;

/// <summary>
/// Where the <c>vk registry</c> commands find the registry: <c>--postgres</c> as <c>vk demo</c> spells
/// it, and the KEK file; each falls back to the environment variable the operator reads, so a Job
/// or a shell that has the operator's environment needs no arguments (and no password on a command line).
/// </summary>
internal sealed class RegistryOptions
{
    public const string ConnectionStringVariable = "Registry__ConnectionString";
    public const string KekFileVariable = "Registry__KekFile";

    public Option<string?> Postgres { get; } = new("--postgres")
    {
        Description = $"The registry's PostgreSQL (an Npgsql connection string; default: ${ConnectionStringVariable})",
        HelpName = "CONNSTR",
    };

    public Option<FileInfo?> KekFile { get; } = new("--kek-file")
    {
        Description = $"The KEK file the registry runs with now (default: ${KekFileVariable})",
        HelpName = "FILE",
    };

    public TCommand AddTo<TCommand>(TCommand command)
        where TCommand : Command
    {
        command.Options.Add(Postgres);
        command.Options.Add(KekFile);
        return command;
    }

    public string ConnectionString(ParseResult parseResult) =>
        Resolve(parseResult.GetValue(Postgres), ConnectionStringVariable, "--postgres CONNSTR");

    public string KekPath(ParseResult parseResult) =>
        Resolve(parseResult.GetValue(KekFile)?.FullName, KekFileVariable, "--kek-file FILE");

    private static string Resolve(string? given, string variable, string option)
    {
        if (!string.IsNullOrWhiteSpace(given))
        {
            return given;
        }

        return Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : throw new CliException($"pass {option} or set {variable}");
    }
}
