using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>A started sidecar with its bound address: what tests, benchmarks and the demo hold on to.</summary>
public sealed class SidecarHost : IAsyncDisposable
{
    private SidecarHost(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
    }

    public WebApplication App { get; }

    /// <summary>E.g. http://127.0.0.1:41234/ (the real port when the options asked for 0).</summary>
    public Uri BaseAddress { get; }

    /// <param name="waitForSnapshot">Return only once the first snapshot is served (the sidecar is ready).</param>
    public static async Task<SidecarHost> StartAsync(
        SidecarOptions options,
        IKeySnapshotSource snapshotSource,
        IUsageSink usageSink,
        TimeProvider? timeProvider = null,
        Action<WebApplicationBuilder>? configure = null,
        bool waitForSnapshot = true,
        CancellationToken cancellationToken = default)
    {
        var app = SidecarApp.Create(options, snapshotSource, usageSink, timeProvider, configure);
        try
        {
            await app.StartAsync(cancellationToken);
            // The API's address: with a metrics port there are two.
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
                .Select(bound => new Uri(bound.EndsWith('/') ? bound : bound + "/"))
                .First(bound => bound.Port != options.MetricsPort);
            var host = new SidecarHost(app, address);
            if (waitForSnapshot)
            {
                await host.WaitForSnapshotAsync(cancellationToken);
            }

            return host;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    public Task WaitForSnapshotAsync(CancellationToken cancellationToken = default) =>
        App.Services.GetRequiredService<KeySnapshotStore>().Loaded.WaitAsync(cancellationToken);

    /// <summary>Stops gracefully: in-flight requests finish, open decisions settle, usage is flushed.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => App.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
