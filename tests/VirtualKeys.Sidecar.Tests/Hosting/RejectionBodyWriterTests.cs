using System.IO.Pipelines;
using System.Text;
using VirtualKeys.Sidecar.Hosting;

namespace VirtualKeys.Sidecar.Tests.Hosting;

/// <summary>The writer on its own, over a pipe: what reaches the connection for a given sequence of writes.</summary>
public sealed class RejectionBodyWriterTests
{
    private const string Refusal = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: Thu, 26 Nov 2026 15:00:00 GMT\r\n\r\n";

    [Fact]
    public async Task On_an_HTTP_1_connection_a_refusal_written_after_held_back_output_gets_its_body_and_the_output_stays()
    {
        var earlier = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

        var sent = await SendAsync(earlier + Refusal);

        Assert.StartsWith(earlier + "HTTP/1.1 400 Bad Request\r\n", sent, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/json\r\n", sent, StringComparison.Ordinal);
        Assert.EndsWith("}", sent, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"malformed_http\"", sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_an_HTTP_2_connection_nothing_is_rewritten()
    {
        // A SETTINGS frame first (length 0, type 4, no flags, stream 0), then DATA whose payload happens
        // to look like a refusal: frame lengths would break if a byte changed.
        var settings = "\0\0\0\u0004\0\0\0\0\0";

        var sent = await SendAsync(settings, Refusal);

        Assert.Equal(settings + Refusal, sent);
    }

    private static async Task<string> SendAsync(params string[] writes)
    {
        var pipe = new Pipe();
        var writer = new RejectionBodyWriter(pipe.Writer);
        foreach (var write in writes)
        {
            var bytes = Encoding.Latin1.GetBytes(write);
            bytes.CopyTo(writer.GetSpan(bytes.Length));
            writer.Advance(bytes.Length);
            await writer.FlushAsync(TestContext.Current.CancellationToken);
        }

        await writer.CompleteAsync();
        using var received = new MemoryStream();
        await pipe.Reader.CopyToAsync(received, TestContext.Current.CancellationToken);
        return Encoding.Latin1.GetString(received.ToArray());
    }
}
