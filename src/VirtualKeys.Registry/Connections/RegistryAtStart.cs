using System.Runtime.InteropServices;

namespace VirtualKeys.Registry.Connections;

/// <summary>
/// Opens the registry when a process starts, waiting for a server that is not there yet. Neither the
/// operator nor the sidecar has anything to do before the registry opens, but exiting would hand the
/// wait to the kubelet, whose restarts back off to five minutes: a pod started during a short
/// PostgreSQL outage (or before its database was created) would stay unready long after the server
/// was back. So it keeps trying, every 1, 2, 4, ... up to 15 s, until SIGTERM or Ctrl-C; the pod's
/// startup probe bounds the wait.
/// </summary>
/// <remarks>
/// Only <see cref="RegistryUnavailableException"/> with a usable connection string is waited out (the
/// server did not answer, refused the session, or is a read-only standby). Everything else the opening throws ends the wait
/// and goes to the caller: a malformed connection string, a schema this binary does not know, a KEK
/// that does not open the key ring, a role without the rights the registry needs.
/// </remarks>
public static class RegistryAtStart
{
    public static readonly TimeSpan FirstWait = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(15);

    /// <param name="open">Opens the registry, or what is built on it; called again after each wait.</param>
    /// <param name="waiting">Told of each failed attempt and how long the wait before the next one is.</param>
    /// <returns>What <paramref name="open"/> returned; null when a stop was asked for before it did.</returns>
    public static async Task<T?> OpenAsync<T>(
        Func<CancellationToken, Task<T>> open,
        Func<RegistryUnavailableException, TimeSpan, Task> waiting)
        where T : class, IAsyncDisposable
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(waiting);
        using var stop = new CancellationTokenSource();
        var signals = new[]
        {
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop),
        };
        try
        {
            var wait = FirstWait;
            while (true)
            {
                // Spread by a fifth either way, so the pods of a fleet do not all come back at once.
                var delay = wait * (0.8 + (0.4 * Random.Shared.NextDouble()));
                try
                {
                    var opened = await open(stop.Token);

                    // From here a signal is the caller's host's to handle (the runtime's default until
                    // it starts). One that came before, while the last of the opening ran (the key ring
                    // is read without the token) or just after it, the host would never hear of: stop.
                    Unregister(signals);
                    if (stop.IsCancellationRequested)
                    {
                        await opened.DisposeAsync();
                        return null;
                    }

                    return opened;
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    // Whatever the opening ended with once a stop was asked for, the stop is the answer.
                    return null;
                }
                catch (RegistryUnavailableException ex) when (ex.ConnectionStringUsable)
                {
                    await waiting(ex, delay);
                }

                try
                {
                    await Task.Delay(delay, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }

                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, LongestWait.Ticks));
            }
        }
        finally
        {
            Unregister(signals);
        }

        void Stop(PosixSignalContext context)
        {
            // The process ends through the return above, not the runtime's default handling.
            context.Cancel = true;
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // A handler already on its way when the registrations were disposed: the wait is over.
            }
        }
    }

    // Disposing twice does nothing.
    private static void Unregister(PosixSignalRegistration[] signals)
    {
        foreach (var signal in signals)
        {
            signal.Dispose();
        }
    }
}
