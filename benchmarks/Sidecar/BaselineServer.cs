using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// The ceiling for the resolve figure: bare Kestrel (the sidecar's own slim builder, no middleware)
/// answering <c>POST /v1/resolve</c> with a constant JSON body of the size and shape of a real decision,
/// and <c>POST /v1/usage</c> with a constant report answer, so wrk's resolve script runs unchanged.
/// </summary>
internal sealed class BaselineServer : IAsyncDisposable
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """
        {"decisionId":"dec_00000000000000000000000000","key":{"namespace":"bench","name":"bench-00001","id":"aaaaaaaaaaaaaaaa"},"model":"gpt-4o-mini","provider":{"name":"openai","type":"openai","baseUrl":"http://127.0.0.1:1/v1","credential":"sk-baseline-constant-not-a-key","authHeaders":{"Authorization":"Bearer sk-baseline-constant-not-a-key"}},"fallbacks":[],"expiresAt":"2030-01-01T00:00:00+00:00"}
        """);

    private static readonly byte[] UsageBody = Encoding.UTF8.GetBytes(
        """{"decisionId":"dec_00000000000000000000000000","status":"recorded","costUsd":0.0000066}""");

    private readonly WebApplication _app;

    private BaselineServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public static async Task<BaselineServer> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        app.MapPost("/v1/resolve", context => AnswerAsync(context, Body));
        app.MapPost("/v1/usage", context => AnswerAsync(context, UsageBody));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new BaselineServer(app, new Uri(address.TrimEnd('/') + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Drains the body, as the sidecar must, then writes the constant.</summary>
    private static async Task AnswerAsync(HttpContext context, byte[] body)
    {
        var buffer = new byte[256];
        while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted) > 0)
        {
        }

        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }
}
