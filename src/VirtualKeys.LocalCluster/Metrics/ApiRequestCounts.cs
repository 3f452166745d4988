using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace VirtualKeys.LocalCluster;

/// <summary>
/// How many resource requests the server has been sent, by verb, resource and subresource (what a
/// real cluster's <c>apiserver_request_total</c> counts), whatever their outcome. Discovery and
/// OpenAPI requests are not counted. Read-only for callers: benchmarks and tests take a
/// <see cref="Snapshot"/> before and after what they measure and compare.
/// </summary>
public sealed class ApiRequestCounts
{
    private readonly ConcurrentDictionary<ApiRequestKind, StrongBox<long>> _counts = new();

    /// <summary>Requests of every kind with <see cref="ApiRequestKind.IsWrite"/>.</summary>
    public long Writes => _counts.Where(c => c.Key.IsWrite).Sum(c => Interlocked.Read(ref c.Value.Value));

    /// <summary>
    /// Requests matching every given part; a null part matches any value, and an empty
    /// <paramref name="subresource"/> matches the resource itself only.
    /// </summary>
    public long Count(string? verb = null, string? resource = null, string? subresource = null) =>
        _counts
            .Where(c => (verb is null || c.Key.Verb == verb)
                && (resource is null || c.Key.Resource == resource)
                && (subresource is null || c.Key.Subresource == subresource))
            .Sum(c => Interlocked.Read(ref c.Value.Value));

    /// <summary>The counts so far; kinds never requested are absent.</summary>
    public IReadOnlyDictionary<ApiRequestKind, long> Snapshot() =>
        _counts.ToDictionary(c => c.Key, c => Interlocked.Read(ref c.Value.Value));

    internal void Add(string verb, string resource, string? subresource)
    {
        var counter = _counts.GetOrAdd(new ApiRequestKind(verb, resource, subresource ?? string.Empty), static _ => new StrongBox<long>());
        Interlocked.Increment(ref counter.Value);
    }
}
