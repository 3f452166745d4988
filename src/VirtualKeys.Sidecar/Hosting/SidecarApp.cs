using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>Builds the sidecar's web application from options, a snapshot source and a usage sink.</summary>
public static class SidecarApp
{
    private const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <param name="options">Null binds them from the "Sidecar" configuration section (appsettings, environment, arguments).</param>
    /// <param name="configure">Last word on the builder before it is built (extra logging providers, service overrides).</param>
    public static WebApplication Create(
        SidecarOptions? options,
        IKeySnapshotSource snapshotSource,
        IUsageSink usageSink,
        TimeProvider? timeProvider = null,
        Action<WebApplicationBuilder>? configure = null,
        string[]? args = null)
    {
        ArgumentNullException.ThrowIfNull(snapshotSource);
        ArgumentNullException.ThrowIfNull(usageSink);

        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        options ??= builder.Configuration.GetSection(SidecarOptions.SectionName).Get<SidecarOptions>() ?? new SidecarOptions();
        options.Validate();

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Proxied answers carry the provider's headers as the upstream client read them (one
            // character per byte): written back the same way, not refused as non-ASCII (which was a 500).
            kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.Listen(IPAddress.Parse(options.ListenAddress), options.Port, listen => listen.UseJsonRejectionBodies());
            if (options.MetricsPort is { } metricsPort)
            {
                // SidecarMiddleware serves only the metrics and probes on it.
                if (options.MetricsListenAddress is { } metricsAddress)
                {
                    kestrel.Listen(IPAddress.Parse(metricsAddress), metricsPort, listen => listen.UseJsonRejectionBodies());
                }
                else
                {
                    kestrel.ListenAnyIP(metricsPort, listen => listen.UseJsonRejectionBodies());
                }
            }
        });

        // Framework request logging names paths and query strings; a client could put a key there.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);

        // Hosting starts an Activity (ids, tags, an allocation or three) for every request as long as
        // its logger is enabled at any level; it logs nothing at Warning or above the sidecar needs.
        builder.Logging.AddFilter(HostingDiagnosticsCategory, LogLevel.None);

        builder.Services.AddSingleton(snapshotSource);
        builder.Services.AddSingleton(usageSink);
        builder.Services.AddVirtualKeySidecar(options, timeProvider);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapVirtualKeySidecar();
        return app;
    }
}
