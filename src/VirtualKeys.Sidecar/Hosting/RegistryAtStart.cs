using System.Data.Common;
using System.Runtime.InteropServices;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>
/// Opens the registry when the sidecar starts, waiting for a server that is not there yet. A sidecar has
/// nothing to serve before its first snapshot, but exiting would hand the wait to the kubelet, whose
/// restarts back off to five minutes: a router pod started during a short PostgreSQL outage (or before
/// its database was created) would stay unready long after the server was back. So it keeps trying,
/// not listening meanwhile (the startup probe of the pod bounds the wait), until SIGTERM or Ctrl-C.
/// </summary>
/// <remarks>
/// What waiting cannot fix ends the process at once with exit code 1: a malformed connection string,
/// a schema this binary does not know, a KEK that does not open the key ring.
/// </remarks>
internal static class RegistryAtStart
{
    public static readonly TimeSpan FirstWait = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(15);

    /// <returns>
    /// The open registry; else null and the process's exit code: 1 when it cannot be opened (said on
    /// <paramref name="errors"/>), 0 when a stop was asked for while waiting.
    /// </returns>
    public static async Task<(VirtualKeyRegistry? Registry, int ExitCode)> OpenAsync(Func<CancellationToken, Task<VirtualKeyRegistry>> open, TextWriter errors)
    {
        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        var wait = FirstWait;
        while (true)
        {
            try
            {
                var registry = await open(stop.Token);
                if (stop.IsCancellationRequested)
                {
                    // The signal came while the last of the opening ran (the key ring is read without
                    // the token): the web host would never hear of it, so stop here.
                    await registry.DisposeAsync();
                    return (null, 0);
                }

                return (registry, 0);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                // Whatever the open ended with once a stop was asked for, the stop is the answer.
                return (null, 0);
            }
            catch (RegistryUnavailableException ex) when (ex.InnerException is not null)
            {
                // A connection was tried and failed (a malformed connection string has no inner cause: no retry).
                await errors.WriteLineAsync($"vk-sidecar: cannot open the registry yet: {ex.Message} Trying again in about {wait.TotalSeconds:0} s; not listening until it opens.");
            }
            catch (Exception ex) when (ex is RegistryUnavailableException or RegistrySchemaException or RegistryProtectionException)
            {
                await errors.WriteLineAsync($"vk-sidecar: cannot open the registry: {ex.Message}");
                return (null, 1);
            }
            catch (DbException ex)
            {
                // What the registry does not name itself: a role without the rights the registry needs
                // (42501), no password given where the server asks for one, a TLS failure. The driver's
                // messages carry no password.
                await errors.WriteLineAsync($"vk-sidecar: cannot open the registry: {ex.Message.ReplaceLineEndings(" ")}");
                return (null, 1);
            }

            try
            {
                // Spread by a fifth either way, so the sidecars of many pods do not all come back at once.
                await Task.Delay(wait * (0.8 + (0.4 * Random.Shared.NextDouble())), stop.Token);
            }
            catch (OperationCanceledException)
            {
                return (null, 0);
            }

            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, LongestWait.Ticks));
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
}
