using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Registry;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// Starts the resolution sidecar in-process on the registry: the same PostgreSQL database and KEK
/// file as the operator, a free loopback port.
/// </summary>
/// <remarks>
/// The same wiring as the sidecar binary (<see cref="RegistrySidecarWiring"/>), so the demo shows
/// the production path: LISTEN/NOTIFY for key changes, batched usage writes, and limits leased from
/// the registry's shared quota counters with recorded spend seeded into budgets.
/// </remarks>
internal static class SidecarLauncher
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    public static async Task<RunningSidecar> StartAsync(string registryConnectionString, string kekFile, bool verbose, CancellationToken cancellationToken)
    {
        var registry = await VirtualKeyRegistry.OpenAsync(registryConnectionString, kekFile, TimeProvider.System, NullLoggerFactory.Instance, cancellationToken);
        WebApplication app;
        try
        {
            var wiring = RegistrySidecarWiring.Create(registry, new QuotaOptions { Mode = QuotaMode.Shared }, TimeProvider.System);
            app = wiring.CreateApp(
                // Usage reaches the registry within a second (the default batches for 10 s), so the
                // demo shows it on the resource right after the burst.
                new SidecarOptions { ListenAddress = IPAddress.Loopback.ToString(), Port = 0, UsageFlushInterval = TimeSpan.FromSeconds(1) },
                TimeProvider.System,
                configure: builder =>
                {
                    builder.Logging.ClearProviders();
                    if (verbose)
                    {
                        builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
                    }
                });
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var running = new RunningSidecar(new Uri(address.TrimEnd('/') + "/"), new Stopper(app, registry));
        try
        {
            await WaitUntilReadyAsync(running.BaseAddress, cancellationToken);
        }
        catch
        {
            await running.Host.DisposeAsync();
            throw;
        }

        return running;
    }

    // /readyz turns 200 once the first snapshot of the registry is loaded; before that every request gets 503.
    private static async Task WaitUntilReadyAsync(Uri sidecar, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = sidecar, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (true)
        {
            using (var response = await http.GetAsync("readyz", cancellationToken))
            {
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"its /readyz still answered {(int)response.StatusCode} after {ReadyTimeout.TotalSeconds:0}s: {await response.Content.ReadAsStringAsync(cancellationToken)}");
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private sealed class Stopper(WebApplication app, VirtualKeyRegistry registry) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            // Stopping flushes buffered usage into the registry before it closes.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await app.StopAsync(timeout.Token);
            await app.DisposeAsync();
            await registry.DisposeAsync();
        }
    }
}
