using System.CommandLine;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Running;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Cli.Registry;

/// <summary>
/// <c>vk registry replace-kek</c>: re-seals the whole key ring under a new KEK in one transaction
/// (see <see cref="KekReplacement"/>); run it while every replica accepts both KEKs.
/// </summary>
internal static class ReplaceKekCommand
{
    public const string Name = "replace-kek";

    public static Command Create()
    {
        var registry = new RegistryOptions();
        var newKek = new Option<FileInfo>("--new-kek-file")
        {
            Description = "The KEK to seal the key ring under from now on (32 random bytes, base64; e.g. openssl rand -base64 32)",
            HelpName = "FILE",
            Required = true,
        };
        var command = registry.AddTo(new Command(
            Name,
            "Re-seal every key ring element under a new key-encryption key and re-compute the credential fingerprints, in one transaction; " +
            "safe to run again (a complete run changes nothing, an interrupted one changed nothing)")
        {
            newKek,
        }).WithExamples(
            "vk registry replace-kek --new-kek-file kek-new --kek-file kek-old --postgres 'Host=127.0.0.1;Username=vk;Database=virtual_keys'",
            "vk registry replace-kek --new-kek-file /var/run/vk-kek-new/kek");
        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("registry " + Name, stderr, cancellationToken, () => RegistryFailures.TranslateAsync(async () =>
            {
                var connectionString = registry.ConnectionString(parseResult);
                using var oldKek = KeyEncryptionKey.Load(registry.KekPath(parseResult));
                using var replacement = KeyEncryptionKey.Load(parseResult.GetValue(newKek)!.FullName);
                await using var database = RegistryDatabase.Create(connectionString);

                var result = await new KekReplacement(database).ReplaceAsync(oldKek, replacement, progress: null, cancellationToken);
                stdout.WriteLine($"key ring in {database.Endpoint}: {result.Rewrapped} elements re-sealed from KEK {oldKek.Id} to KEK {result.NewKekId}, {result.AlreadyUnderNewKek} already were");
                stdout.WriteLine($"credentials: {result.Credentials} checked, {result.FingerprintsUpdated} fingerprints re-computed under the new KEK");
                stdout.WriteLine(result.Rewrapped == 0
                    ? "Nothing was left under the old KEK. Once every replica runs with the new KEK as Registry:KekFile, remove the old one from Registry:PreviousKekFiles."
                    : "Run the command again after every replica runs with the new KEK as Registry:KekFile: it should re-seal 0 elements before the old KEK goes.");
                return 0;
            }));
        });
        return command;
    }
}
