namespace VirtualKeys.Registry.Connections;

/// <summary>
/// The registry's PostgreSQL server cannot be used: the connection string is malformed, or the server
/// does not answer, refuses the session, or is a read-only standby. The message is one line naming host and port; it never
/// contains the password.
/// </summary>
public sealed class RegistryUnavailableException : Exception
{
    public RegistryUnavailableException()
        : this("The registry's PostgreSQL server is unavailable.")
    {
    }

    public RegistryUnavailableException(string message)
        : this(message, host: null, port: null, innerException: null)
    {
    }

    public RegistryUnavailableException(string message, Exception innerException)
        : this(message, host: null, port: null, innerException)
    {
    }

    public RegistryUnavailableException(string message, string? host, int? port, Exception? innerException)
        : this(message, host, port, innerException, connectionStringUsable: true)
    {
    }

    public RegistryUnavailableException(string message, string? host, int? port, Exception? innerException, bool connectionStringUsable)
        : base(message, innerException)
    {
        Host = host;
        Port = port;
        ConnectionStringUsable = connectionStringUsable;
    }

    /// <summary>The host from the connection string; null when even that could not be read.</summary>
    public string? Host { get; }

    public int? Port { get; }

    /// <summary>
    /// True when the connection string could be used and the server did not answer, refused the
    /// session or went away: the same call may succeed later. False when the connection string itself
    /// is malformed or names no host, which no wait mends.
    /// </summary>
    public bool ConnectionStringUsable { get; }
}
