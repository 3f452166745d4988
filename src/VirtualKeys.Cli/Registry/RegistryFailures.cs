using Npgsql;
using VirtualKeys.Cli.Running;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Cli.Registry;

/// <summary>
/// Turns the registry's own failures into <see cref="CliException"/>s, whose messages already name
/// the file, the KEK id or the endpoint and never key material.
/// </summary>
internal static class RegistryFailures
{
    public static async Task<int> TranslateAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            throw new CliException("the database holds no registry (schema vk): point --postgres at the operator's database, or start the operator once to create it", ex);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new CliException("another process kept the key ring or a credential locked for too long (another replace-kek run?); nothing was changed, run the command again", ex);
        }
        catch (Exception ex) when (RegistryFailure.Describe(ex) is { } reason)
        {
            // The registry's own failures, and any other refusal of the driver, such as a role without
            // the rights the command needs (42501).
            throw new CliException(reason, ex);
        }
    }
}
