namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>How a server-sent-events stream ended, as an SDK reading it would notice.</summary>
internal enum StreamEnding
{
    /// <summary>Every frame whole and the final <c>data: [DONE]</c> arrived.</summary>
    Complete,

    /// <summary>No [DONE], but the stream ended at a frame boundary with every frame whole (possibly an error event last): the SDK sees an early end, never half a JSON object.</summary>
    CleanClose,

    /// <summary>The stream ended inside a frame, or a frame is not whole JSON, and no error event explains it.</summary>
    Truncated,
}
