using System.CommandLine;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Registry;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk registry</c>: maintenance of the registry's encryption keys, run against its PostgreSQL with its KEK.</summary>
internal static class RegistryCommand
{
    public static Command Create() =>
        new Command("registry", "Maintain the registry's encryption: rotate the Data Protection key ring, replace the key-encryption key (KEK)")
        {
            RotateKeyringCommand.Create(),
            ReplaceKekCommand.Create(),
        }.WithExamples(
            "vk registry rotate-keyring --reencrypt",
            "vk registry replace-kek --new-kek-file kek-new --kek-file kek-old");
}
