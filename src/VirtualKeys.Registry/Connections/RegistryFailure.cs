using System.Data.Common;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Registry.Connections;

/// <summary>
/// What a process that cannot use the registry says before it exits: the operator, the sidecar and
/// <c>vk</c> print the same line for the same cause, each with its own prefix and exit code.
/// </summary>
public static class RegistryFailure
{
    /// <summary>
    /// One line on why the registry cannot be used, or null for an exception that is not about the
    /// registry (a bug, which should keep its stack trace). The registry's own exceptions name the
    /// endpoint, the file or the KEK id; a driver's refusal the registry does not name itself (a role
    /// without the rights it needs, 42501; no password given where the server asks for one; a TLS
    /// failure) is passed on as PostgreSQL's message. Neither carries a password or key material.
    /// </summary>
    public static string? Describe(Exception exception) => exception switch
    {
        RegistryUnavailableException or RegistrySchemaException or RegistryProtectionException => exception.Message.ReplaceLineEndings(" "),
        DbException driver => "PostgreSQL refused: " + driver.Message.ReplaceLineEndings(" "),
        _ => null,
    };
}
