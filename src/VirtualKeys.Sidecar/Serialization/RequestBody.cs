using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace VirtualKeys.Sidecar.Serialization;

/// <summary>A whole request body in a pooled array: return it with <see cref="Dispose"/>.</summary>
internal struct RequestBody : IDisposable
{
    private byte[]? _rented;

    private RequestBody(byte[] rented, int length)
    {
        _rented = rented;
        Length = length;
    }

    public int Length { get; private set; }

    public readonly ReadOnlySpan<byte> Span => _rented.AsSpan(0, Length);

    public readonly ReadOnlyMemory<byte> Memory => _rented.AsMemory(0, Length);

    /// <summary>application/json with any parameters (charset), or a +json suffix type.</summary>
    public static bool IsJson(HttpRequest request)
    {
        var contentType = request.ContentType;
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        // What nearly every client sends needs no parsing (a parsed header allocates).
        if (contentType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed))
        {
            return false;
        }

        var mediaType = parsed.MediaType.AsSpan();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Null when the body is longer than <paramref name="limit"/> (nothing more is read then).</summary>
    public static async ValueTask<RequestBody?> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }

            // Only completion ends the body. A cancelled read is not the end of it: Kestrel cancels the
            // connection's pending read when the server begins to stop, and with unconsumed data examined
            // (as here) that cancellation reaches this reader with part of the body in hand.
            if (result.IsCompleted)
            {
                var length = (int)buffer.Length;
                var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                buffer.CopyTo(rented);
                reader.AdvanceTo(buffer.End);
                return new RequestBody(rented, length);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public void Dispose()
    {
        if (_rented is { } rented)
        {
            _rented = null;
            Length = 0;
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
