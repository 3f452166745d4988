namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>What the host needs of an informer, whatever its kind.</summary>
public interface IInformer
{
    string Kind { get; }

    /// <summary>True once the first list of every watched namespace is in the cache.</summary>
    bool HasSynced { get; }

    /// <summary>The namespaces whose first list is not cached yet, each with the last list's failure: what <see cref="HasSynced"/> waits for.</summary>
    IReadOnlyList<UnsyncedScope> Unsynced { get; }

    /// <summary>Lists, then watches, until cancelled; returns normally on cancellation.</summary>
    Task RunAsync(CancellationToken cancellationToken);

    Task WaitForCacheSyncAsync(CancellationToken cancellationToken);
}
