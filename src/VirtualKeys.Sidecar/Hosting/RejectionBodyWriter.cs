using System.IO.Pipelines;
using VirtualKeys.Sidecar.Errors;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>
/// A connection's output as Kestrel writes it, passed through unchanged except for a head that
/// <see cref="KestrelRejections"/> recognises as one of Kestrel's own bodiless refusals, which gets
/// the JSON error body. Kestrel writes such a head in one piece, as the connection's last write.
/// The check costs a comparison of the first bytes of each write.
/// </summary>
internal sealed class RejectionBodyWriter(PipeWriter inner) : PipeWriter
{
    private Memory<byte> _handedOut;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override Memory<byte> GetMemory(int sizeHint = 0) => _handedOut = inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (bytes >= 16
            && bytes <= _handedOut.Length
            && _handedOut.Span[0] == (byte)'H'
            && KestrelRejections.TryRewrite(_handedOut.Span[..bytes], out var replacement))
        {
            // The refused head is still uncommitted in the buffer: write the replacement over it.
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
