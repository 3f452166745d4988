namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

/// <summary>
/// One hostile request of the corpus: what it tries, how it is sent, and what must come back.
/// </summary>
/// <param name="Id">Stable name, e.g. <c>token-sql</c>.</param>
/// <param name="What">What the request tries, for the failure message and the figures.</param>
/// <param name="Status">The exact status expected; null accepts any 4xx.</param>
/// <param name="Answer">How the answer must look: a JSON error, a bare 4xx from Kestrel, or a close.</param>
/// <param name="Send">Writes the request to the socket (maybe slowly).</param>
internal sealed record HostileRequest(
    string Id,
    string What,
    int? Status,
    ExpectedAnswer Answer,
    Func<CorpusKeys, Func<Stream, CancellationToken, Task>> Send)
{
    /// <summary>Slow clients get this long before the test calls the server hung.</summary>
    public TimeSpan Bound => Answer == ExpectedAnswer.ErrorOrClose ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(20);

    public override string ToString() => Id;
}
