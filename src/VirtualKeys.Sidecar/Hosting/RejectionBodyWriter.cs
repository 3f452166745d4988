using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using VirtualKeys.Sidecar.Errors;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>
/// A connection's output as Kestrel writes it, passed through unchanged except for one of Kestrel's
/// own bodiless refusals (<see cref="KestrelRejections"/>), which gets the JSON error body. An HTTP/1.1
/// connection serves one request at a time, and a refusal is written only while no request is in the
/// application: from <see cref="AppRequestStarted"/> until the response has been sent, writes pass
/// through without a look (an application's own empty 4xx, such as a provider's answer the proxy
/// forwards, is never taken for a refusal). Outside requests, the refusal head is looked for at the end
/// of a write, where Kestrel puts it after any output it still held back. A head split over two
/// writes (Kestrel's buffer ending within a few bytes) keeps Kestrel's bare answer. HTTP/2
/// connections pass through untouched.
/// </summary>
internal sealed class RejectionBodyWriter(PipeWriter inner) : PipeWriter
{
    private static readonly object ItemKey = new();
    private Memory<byte> _handedOut;
    private volatile bool _appResponding;

    // Decided by the connection's first write: an HTTP/1.x answer starts with "HTTP/1."; HTTP/2 (where
    // the endpoint is configured for it) starts with a binary SETTINGS frame, multiplexes requests, and
    // has no refusals of this kind, so its output is never looked at.
    private bool? _http1;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    /// <summary>Makes this writer the one <see cref="AppRequestStarted"/> finds for the requests of the connection whose items these are.</summary>
    public void Attach(IDictionary<object, object?> connectionItems) => connectionItems[ItemKey] = this;

    /// <summary>Called for each request that reaches the application, before anything is written for it.</summary>
    public static void AppRequestStarted(HttpContext context)
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ItemKey, out var item) == true
            && item is RejectionBodyWriter writer)
        {
            writer._appResponding = true;
            context.Response.OnCompleted(
                static state =>
                {
                    ((RejectionBodyWriter)state)._appResponding = false;
                    return Task.CompletedTask;
                },
                writer);
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _handedOut = inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (_http1 is null && bytes > 0 && bytes <= _handedOut.Length)
        {
            _http1 = _handedOut.Span[..bytes].StartsWith("HTTP/1."u8);
        }

        if (_http1 == true
            && !_appResponding
            && bytes >= 16
            && bytes <= _handedOut.Length
            && KestrelRejections.TryRewriteTail(_handedOut.Span[..bytes], out var headStart, out var replacement))
        {
            // The refused head is still uncommitted in the buffer: keep what precedes it, write the
            // replacement over the rest.
            inner.Advance(headStart);
            var span = inner.GetSpan(replacement.Length);
            replacement.CopyTo(span);
            inner.Advance(replacement.Length);
            _handedOut = default;
            return;
        }

        _handedOut = default;
        inner.Advance(bytes);
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
}
