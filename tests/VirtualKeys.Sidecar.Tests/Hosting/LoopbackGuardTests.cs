using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Observability;

namespace VirtualKeys.Sidecar.Tests.Hosting;

public sealed class LoopbackGuardTests
{
    [Theory]
    [InlineData("10.1.2.3", false, 403)]
    [InlineData("192.168.0.7", false, 403)]
    [InlineData("2001:db8::1", false, 403)]
    [InlineData("127.0.0.1", false, 200)]
    [InlineData("127.0.0.53", false, 200)]
    [InlineData("::1", false, 200)]
    [InlineData("::ffff:127.0.0.1", false, 200)]
    [InlineData("10.1.2.3", true, 200)]
    public async Task Only_loopback_callers_are_served_unless_configured(string remote, bool allowRemote, int expected)
    {
        var options = new SidecarOptions { AllowNonLoopbackCallers = allowRemote };
        var middleware = new SidecarMiddleware(_ => Task.CompletedTask, options, new SidecarMetrics(options), NullLogger<SidecarMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        context.Response.Body = new MemoryStream();

        await middleware.InvokeAsync(context);
        await context.Response.CompleteAsync();

        Assert.Equal(expected, context.Response.StatusCode);
        if (expected == 403)
        {
            context.Response.Body.Position = 0;
            var error = JsonDocument.Parse(context.Response.Body).RootElement.GetProperty("error");
            Assert.Equal("forbidden_remote_caller", error.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task An_unexpected_failure_is_a_500_json_error_without_details()
    {
        var options = new SidecarOptions();
        var middleware = new SidecarMiddleware(
            _ => throw new InvalidOperationException("secret-looking detail sk-should-not-leak"),
            options,
            new SidecarMetrics(options),
            NullLogger<SidecarMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();

        await middleware.InvokeAsync(context);
        await context.Response.CompleteAsync();

        Assert.Equal(500, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        var text = new StreamReader(context.Response.Body).ReadToEnd();
        Assert.Contains("internal_error", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-should-not-leak", text, StringComparison.Ordinal);
    }

    // Errors the pipeline makes itself (an unexpected failure, Kestrel's refusal of a body, an unknown
    // method) carry Anthropic's top-level "type": "error" on the Anthropic route, as the proxy's own do.
    [Theory]
    [InlineData("/v1/messages", "failure", 500, true)]
    [InlineData("/v1/messages", "too_large", 413, true)]
    [InlineData("/v1/messages", "method", 405, true)]
    [InlineData("/v1/chat/completions", "failure", 500, false)]
    [InlineData("/v1/chat/completions", "too_large", 413, false)]
    public async Task Pipeline_errors_on_the_anthropic_route_have_the_anthropic_shape(string path, string failure, int status, bool anthropic)
    {
        var options = new SidecarOptions();
        RequestDelegate next = failure switch
        {
            "failure" => _ => throw new InvalidOperationException("unexpected"),
            "too_large" => _ => throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge),
            _ => MethodNotAllowed,
        };
        var middleware = new SidecarMiddleware(next, options, new SidecarMetrics(options), NullLogger<SidecarMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();

        await middleware.InvokeAsync(context);
        await context.Response.CompleteAsync();

        Assert.Equal(status, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        var body = JsonDocument.Parse(context.Response.Body).RootElement;
        Assert.True(body.TryGetProperty("error", out _));
        Assert.Equal(anthropic ? "error" : null, body.TryGetProperty("type", out var type) ? type.GetString() : null);
    }

    private static Task MethodNotAllowed(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        return Task.CompletedTask;
    }
}
