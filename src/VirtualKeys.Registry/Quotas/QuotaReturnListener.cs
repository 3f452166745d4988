using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Quotas;

/// <summary>
/// LISTENs on <see cref="QuotaLedger.ReturnsChannel"/> on a dedicated connection: which keys other
/// replicas gave leases back for, so a replica that found a counter used up asks again only then.
/// </summary>
/// <remarks>
/// A notification says only that something came back; a missed one costs capacity that stays
/// unused until the window or period ends, never an admission beyond a limit. When the connection
/// drops, <see cref="ReadAllAsync"/> ends with <see cref="RegistryUnavailableException"/>: start a new
/// listener and treat every key as possibly refilled.
/// </remarks>
public sealed class QuotaReturnListener : IAsyncDisposable
{
    private readonly NotificationListener<string> _listener;

    private QuotaReturnListener(NotificationListener<string> listener) => _listener = listener;

    /// <param name="replicaId">This replica: its own returns are not handed out.</param>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public static async Task<QuotaReturnListener> StartAsync(RegistryDatabase database, string replicaId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentException.ThrowIfNullOrEmpty(replicaId);
        var listener = await NotificationListener<string>.StartAsync(
            database,
            QuotaLedger.ReturnsChannel,
            (payload, keys) =>
            {
                if (QuotaLedger.TryParseReturnPayload(payload, out var keyId, out var from) && !string.Equals(from, replicaId, StringComparison.Ordinal))
                {
                    keys.TryWrite(keyId);
                }
            },
            onLost: null,
            cancellationToken);
        return new QuotaReturnListener(listener);
    }

    /// <summary>Ids of keys another replica gave leases back for, until disposed or the connection is lost.</summary>
    /// <exception cref="RegistryUnavailableException">The connection was lost.</exception>
    public IAsyncEnumerable<string> ReadAllAsync(CancellationToken cancellationToken) => _listener.ReadAllAsync(cancellationToken);

    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}
