using System.Collections.Concurrent;

namespace VirtualKeys.Operator.Tests.Support;

/// <summary>Counts the API requests an operator instance sends that are not reads (or lease traffic).</summary>
internal sealed class WriteCounter : DelegatingHandler
{
    private readonly ConcurrentQueue<string> _writes = new();

    public int Count => _writes.Count;

    public IReadOnlyList<string> Writes => [.. _writes];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri?.AbsolutePath ?? string.Empty;
        if (request.Method != HttpMethod.Get && !path.Contains("/leases", StringComparison.Ordinal))
        {
            _writes.Enqueue($"{request.Method} {path}");
        }

        return base.SendAsync(request, cancellationToken);
    }
}
