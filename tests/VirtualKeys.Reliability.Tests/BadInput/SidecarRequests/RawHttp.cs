using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

/// <summary>
/// HTTP/1.1 over a bare socket, so a case can send what no HTTP client would (bad framing, injected
/// headers, a trickle of bytes) and still read the answer, or see the connection closed.
/// </summary>
internal static class RawHttp
{
    private const int MaxResponseBytes = 1 << 20;

    /// <summary>A whole request with Content-Length and <c>Connection: close</c>.</summary>
    public static byte[] Request(string method, string target, string? contentType, byte[]? body, IEnumerable<string>? headerLines = null)
    {
        var head = new StringBuilder().Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (contentType is not null)
        {
            head.Append("Content-Type: ").Append(contentType).Append("\r\n");
        }

        foreach (var line in headerLines ?? [])
        {
            head.Append(line).Append("\r\n");
        }

        if (body is not null)
        {
            head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        }

        head.Append("\r\n");
        return [.. Encoding.Latin1.GetBytes(head.ToString()), .. body ?? []];
    }

    /// <summary>
    /// Connects, lets <paramref name="send"/> write (it may dawdle), and reads the answer until the
    /// server closes or <paramref name="bound"/> passes; the send is abandoned once an answer is complete.
    /// </summary>
    public static async Task<RawResponse> ExchangeAsync(Uri server, Func<Stream, CancellationToken, Task> send, TimeSpan bound, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(bound);
        var started = Stopwatch.GetTimestamp();
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, deadline.Token);
        await using var stream = client.GetStream();
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        var sending = SendQuietlyAsync(stream, send, stopSending.Token);
        try
        {
            return await ReadAsync(stream, started, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No answer and no close within {bound.TotalSeconds:0}s: the server let the client hang.");
        }
        finally
        {
            await stopSending.CancelAsync();
            await sending;
        }
    }

    private static async Task SendQuietlyAsync(Stream stream, Func<Stream, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        try
        {
            await send(stream, cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The server stopped listening to us (it answered, or gave up on a slow client): expected.
        }
    }

    private static async Task<RawResponse> ReadAsync(Stream stream, long started, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int headerEnd;
        while ((headerEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
        {
            var read = await ReadSomeAsync(stream, chunk, cancellationToken);
            if (read == 0)
            {
                return buffer.Length == 0
                    ? new RawResponse(null, new Dictionary<string, string>(), "", Stopwatch.GetElapsedTime(started))
                    : throw new InvalidDataException("The connection closed in the middle of the response headers.");
            }

            buffer.Write(chunk, 0, read);
        }

        var all = buffer.ToArray();
        var lines = Encoding.Latin1.GetString(all, 0, headerEnd).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon].Trim();
            headers[name] = headers.TryGetValue(name, out var earlier) ? earlier + ", " + line[(colon + 1)..].Trim() : line[(colon + 1)..].Trim();
        }

        var body = new MemoryStream();
        body.Write(all, headerEnd + 4, all.Length - headerEnd - 4);
        if (headers.TryGetValue("content-length", out var length))
        {
            var expected = long.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
            while (body.Length < expected && body.Length < MaxResponseBytes)
            {
                var read = await ReadSomeAsync(stream, chunk, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                body.Write(chunk, 0, read);
            }
        }
        else if (headers.TryGetValue("transfer-encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (IndexOf(body, "0\r\n\r\n"u8) < 0 && body.Length < MaxResponseBytes)
            {
                var read = await ReadSomeAsync(stream, chunk, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                body.Write(chunk, 0, read);
            }

            body = Dechunk(body.ToArray());
        }

        return new RawResponse(status, headers, Encoding.UTF8.GetString(body.ToArray()), Stopwatch.GetElapsedTime(started));
    }

    private static async Task<int> ReadSomeAsync(Stream stream, byte[] chunk, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(chunk, cancellationToken);
        }
        catch (IOException)
        {
            // A reset counts as a close.
            return 0;
        }
    }

    private static MemoryStream Dechunk(byte[] data)
    {
        var output = new MemoryStream();
        var position = 0;
        while (position < data.Length)
        {
            var lineEnd = Array.IndexOf(data, (byte)'\r', position);
            if (lineEnd < 0)
            {
                break;
            }

            var sizeText = Encoding.Latin1.GetString(data, position, lineEnd - position).Split(';')[0];
            var size = Convert.ToInt32(sizeText, 16);
            if (size == 0)
            {
                break;
            }

            output.Write(data, lineEnd + 2, Math.Min(size, data.Length - lineEnd - 2));
            position = lineEnd + 2 + size + 2;
        }

        return output;
    }

    private static int IndexOf(MemoryStream stream, ReadOnlySpan<byte> value) =>
        stream.GetBuffer().AsSpan(0, (int)stream.Length).IndexOf(value);
}
