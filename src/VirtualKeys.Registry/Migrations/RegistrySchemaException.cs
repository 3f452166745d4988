namespace VirtualKeys.Registry.Migrations;

/// <summary>
/// The database's registry schema cannot be used by this binary: it is newer than the migrations
/// this binary carries, or an applied migration differs from the one shipped.
/// </summary>
public sealed class RegistrySchemaException : Exception
{
    public RegistrySchemaException()
    {
    }

    public RegistrySchemaException(string message)
        : base(message)
    {
    }

    public RegistrySchemaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RegistrySchemaException(string message, int databaseVersion, int knownVersion)
        : base(message)
    {
        DatabaseVersion = databaseVersion;
        KnownVersion = knownVersion;
    }

    /// <summary>The highest migration version recorded in the database.</summary>
    public int DatabaseVersion { get; }

    /// <summary>The highest migration version this binary carries.</summary>
    public int KnownVersion { get; }
}
