using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Reliability.Tests.BadInput;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Authorization;

/// <summary>
/// The sidecar hands out provider credentials, so it serves loopback callers only unless
/// <c>AllowNonLoopbackCallers</c> is set. Checked over a real socket from this machine's own
/// non-loopback address (the connection's source is then that address, not 127.0.0.1), and, so the
/// check runs on machines without one too, with a caller address set in front of the sidecar's pipeline.
/// </summary>
public sealed class RemoteCallerTests(PostgresFixture postgres)
{
    private const string RemoteHeader = "X-Test-Remote-Address";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_caller_from_a_non_loopback_address_is_refused_unless_allowed()
    {
        var address = LocalAddresses.NonLoopbackIPv4();
        Assert.SkipWhen(address is null, "This machine has no non-loopback IPv4 address; the pipeline variant of this test covers the rule.");

        await using var guarded = await SidecarStack.StartAsync(postgres, "remoteguarded", o => o.ListenAddress = "0.0.0.0");
        await using var open = await SidecarStack.StartAsync(postgres, "remoteopen", o =>
        {
            o.ListenAddress = "0.0.0.0";
            o.AllowNonLoopbackCallers = true;
        });
        var key = await guarded.AddKeyAsync();
        var openKey = await open.AddKeyAsync();

        var (fromRemote, remoteCode) = await ResolveFromAsync(address!, guarded.BaseAddress.Port, key.Token);
        var (fromLoopback, _) = await ResolveFromAsync(IPAddress.Loopback, guarded.BaseAddress.Port, key.Token);
        var (allowedRemote, _) = await ResolveFromAsync(address!, open.BaseAddress.Port, openKey.Token);

        Assert.Equal(403, fromRemote);
        Assert.Equal("forbidden_remote_caller", remoteCode);
        Assert.Equal(200, fromLoopback);
        Assert.Equal(200, allowedRemote);

        await new ScenarioFigures(
            "authorization-remote-caller",
            "Authorization",
            "Callers from outside the pod",
            $"A request from the machine's own non-loopback address got {fromRemote} {remoteCode}; the same request over loopback got {fromLoopback}, and with AllowNonLoopbackCallers {allowedRemote}.",
            true,
            [
                new("non-loopback caller", fromRemote),
                new("loopback caller", fromLoopback),
                new("non-loopback caller, allowed by configuration", allowedRemote),
            ]).WriteAsync(Cancel);
    }

    [Theory]
    [InlineData("10.0.0.7", false, 403)]
    [InlineData("2001:db8::5", false, 403)]
    [InlineData("::ffff:10.0.0.7", false, 403)]
    [InlineData("127.0.0.1", false, 200)]
    [InlineData("::ffff:127.0.0.1", false, 200)]
    [InlineData("10.0.0.7", true, 200)]
    public async Task A_non_loopback_caller_address_is_refused_in_the_pipeline_unless_allowed(string remote, bool allow, int expected)
    {
        await using var stack = await SidecarStack.StartAsync(
            postgres,
            "remotepipeline",
            o => o.AllowNonLoopbackCallers = allow,
            builder => builder.Services.AddSingleton<IStartupFilter>(new RemoteAddressFilter()));
        var key = await stack.AddKeyAsync();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/resolve")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { virtualKey = key.Token }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(RemoteHeader, remote);
        using var response = await stack.Client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        if (expected == 403)
        {
            SecretLedger.Observe("remote caller refusal", text);
            Assert.Equal("forbidden_remote_caller", JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal(expected, (int)response.StatusCode);
    }

    private static async Task<(int Status, string? Code)> ResolveFromAsync(IPAddress address, int port, string token)
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://{address}:{port}/"), Timeout = TimeSpan.FromSeconds(20) };
        using var response = await client.PostAsync(
            "/v1/resolve",
            new StringContent(JsonSerializer.Serialize(new { virtualKey = token }), Encoding.UTF8, "application/json"),
            Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        if (!response.IsSuccessStatusCode)
        {
            SecretLedger.Observe("remote caller answer", text);
            return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        return ((int)response.StatusCode, null);
    }

    /// <summary>Sets the connection's remote address from a test header before the sidecar's pipeline runs.</summary>
    private sealed class RemoteAddressFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, following) =>
            {
                if (context.Request.Headers.TryGetValue(RemoteHeader, out var value))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(value.ToString());
                }

                return following(context);
            });
            next(app);
        };
    }
}
