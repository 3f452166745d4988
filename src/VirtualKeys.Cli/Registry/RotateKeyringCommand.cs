using System.CommandLine;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Running;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Cli.Registry;

/// <summary>
/// <c>vk registry rotate-keyring</c>: adds a Data Protection key that protects every credential
/// written from now on, and optionally re-protects the stored ones with it.
/// </summary>
internal static class RotateKeyringCommand
{
    public const string Name = "rotate-keyring";

    public static Command Create()
    {
        var registry = new RegistryOptions();
        var previous = new Option<FileInfo[]>("--previous-kek-file")
        {
            Description = "A previous KEK still accepted for reading (while a KEK replacement rolls out); repeatable",
            HelpName = "FILE",
        };
        var reencrypt = new Option<bool>("--reencrypt")
        {
            Description = "Also re-protect every stored credential with the new ring key, so older ring keys protect nothing any more",
        };
        var reencryptOnly = new Option<bool>("--reencrypt-only")
        {
            Description = "Re-protect the stored credentials with the newest ring key without adding another (resumes an interrupted --reencrypt)",
        };
        var command = registry.AddTo(new Command(
            Name,
            "Add a new Data Protection key to the registry's key ring; it protects new credentials at once, and credentials protected before stay readable")
        {
            previous,
            reencrypt,
            reencryptOnly,
        }).WithExamples(
            "vk registry rotate-keyring --postgres 'Host=127.0.0.1;Username=vk;Database=virtual_keys' --kek-file kek",
            "vk registry rotate-keyring --reencrypt",
            "vk registry rotate-keyring --reencrypt-only");
        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("registry " + Name, stderr, cancellationToken, () => RegistryFailures.TranslateAsync(async () =>
            {
                var previousPaths = (parseResult.GetValue(previous) ?? []).Select(file => file.FullName);
                await using var database = RegistryDatabase.Create(registry.ConnectionString(parseResult));
                using var protector = CredentialProtector.Create(database, KeyEncryptionKeys.Load(registry.KekPath(parseResult), previousPaths));

                if (!parseResult.GetValue(reencryptOnly))
                {
                    var keyId = protector.RotateKey();
                    stdout.WriteLine($"key ring in {database.Endpoint}: added Data Protection key {keyId}; it protects every credential written from now on");
                }

                if (parseResult.GetValue(reencrypt) || parseResult.GetValue(reencryptOnly))
                {
                    var result = await new CredentialReencryption(database, protector).ReencryptAsync(progress: null, cancellationToken);
                    stdout.WriteLine($"credentials: {result.Reencrypted} re-protected with key {result.TargetKeyId}, {result.AlreadyCurrent} already were, {result.ChangedMeanwhile} rewritten by the operator meanwhile");
                }
                else
                {
                    stdout.WriteLine("Stored credentials stay under the keys that protected them and keep opening; --reencrypt-only moves them to the new key.");
                }

                return 0;
            }));
        });
        return command;
    }
}
