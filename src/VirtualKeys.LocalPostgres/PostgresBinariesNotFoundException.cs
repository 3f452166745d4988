namespace VirtualKeys.LocalPostgres;

/// <summary>
/// <c>initdb</c> or <c>pg_ctl</c> is not where <see cref="PostgresCluster"/> looked. A caller that
/// has another way to a server (a connection string the user passes) adds it to the message.
/// </summary>
public sealed class PostgresBinariesNotFoundException(string binDirectory)
    : InvalidOperationException($"the PostgreSQL 15 server binaries are not in {binDirectory}: install postgresql-15 or set VK_POSTGRES_BIN to their folder")
{
    public string BinDirectory { get; } = binDirectory;
}
