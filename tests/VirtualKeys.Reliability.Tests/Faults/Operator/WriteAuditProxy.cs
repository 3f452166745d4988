using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VirtualKeys.LocalCluster;
using Yarp.ReverseProxy.Forwarder;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// A loopback forwarding proxy in front of the local API server, one per operator instance, that
/// records every write the instance sends. The local API server has no audit log and cannot tell
/// clients apart (every operator presents the same credentials), so giving each instance its own
/// door is how the scenario knows who wrote what, and when.
/// </summary>
internal sealed class WriteAuditProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _invoker;
    private readonly ConcurrentQueue<AuditedWrite> _writes;

    private WriteAuditProxy(WebApplication app, HttpMessageInvoker invoker, ConcurrentQueue<AuditedWrite> writes, Uri address)
    {
        _app = app;
        _invoker = invoker;
        _writes = writes;
        Address = address;
    }

    public Uri Address { get; }

    public IReadOnlyList<AuditedWrite> Writes => [.. _writes];

    public static async Task<WriteAuditProxy> StartAsync(LocalApiServer server, CancellationToken cancellationToken)
    {
        var writes = new ConcurrentQueue<AuditedWrite>();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ActivityHeadersPropagator = null,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        var target = server.BaseAddress.ToString();
        app.Map("/{**path}", async (HttpContext context, IHttpForwarder forwarder) =>
        {
            var sentAt = DateTimeOffset.UtcNow;
            await forwarder.SendAsync(context, target, invoker, ForwarderRequestConfig.Empty, HttpTransformer.Empty);
            if (!HttpMethods.IsGet(context.Request.Method))
            {
                writes.Enqueue(new AuditedWrite(sentAt, context.Request.Method, context.Request.Path.Value ?? "", context.Response.StatusCode));
            }
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new WriteAuditProxy(app, invoker, writes, new Uri(address));
    }

    /// <summary>A kubeconfig for <paramref name="server"/> whose address is this proxy, written to <paramref name="path"/>.</summary>
    public void WriteKubeconfig(LocalApiServer server, string path)
    {
        var direct = server.BaseAddress.ToString().TrimEnd('/');
        var text = server.CreateKubeconfig();
        if (!text.Contains(direct, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The local API server's kubeconfig does not name its address as expected.");
        }

        File.WriteAllText(path, text.Replace(direct, Address.ToString().TrimEnd('/'), StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _invoker.Dispose();
    }
}
