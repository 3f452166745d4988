using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster;

/// <summary>
/// Test-only levers on a running <see cref="LocalApiServer"/>: make the next requests fail,
/// slow every request down, cut all open watches, or forget the watch history so resuming
/// clients get 410 Gone and must relist. Not reachable over HTTP.
/// </summary>
public sealed class FaultInjector
{
    private readonly Lock _lock = new();
    private readonly List<FailureRule> _rules = [];
    private readonly ObjectStore _store;
    private long _latencyTicks;

    internal FaultInjector(ObjectStore store)
    {
        _store = store;
    }

    /// <summary>Added before every API request is served (discovery and OpenAPI included).</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set => Interlocked.Exchange(ref _latencyTicks, Math.Max(0, value.Ticks));
    }

    /// <summary>
    /// The next <paramref name="count"/> requests for <paramref name="resource"/> (a plural such
    /// as "secrets"; null for any) with <paramref name="verb"/> (get, list, watch, create, update,
    /// patch, delete, deletecollection; null for any) answer <paramref name="statusCode"/> with a
    /// Status body, as a failing API server or an overloaded etcd would. With
    /// <paramref name="namespace"/>, only requests in that namespace fail (a list or watch across all
    /// namespaces is not in it), as a missing RoleBinding there would make them.
    /// </summary>
    public void FailNext(int count, int statusCode, string? resource = null, string? verb = null, string? message = null, string? @namespace = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        lock (_lock)
        {
            _rules.Add(new FailureRule(resource, verb, @namespace, statusCode, message ?? $"injected fault: {statusCode}", count));
        }
    }

    /// <summary>Closes every open watch stream; clients see their watch end and must re-watch.</summary>
    public int DropAllWatches() => _store.DropAllWatchers();

    /// <summary>Forgets the event history, as an etcd compaction would: resuming any older resourceVersion answers 410 Gone.</summary>
    public void ExpireWatchHistory() => _store.ExpireHistory();

    /// <summary>Removes pending failures and latency.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _rules.Clear();
        }

        Latency = TimeSpan.Zero;
    }

    internal ApiException? TakeFailure(string resource, string verb, string? @namespace)
    {
        lock (_lock)
        {
            for (var i = 0; i < _rules.Count; i++)
            {
                var rule = _rules[i];
                if ((rule.Resource is null || rule.Resource == resource)
                    && (rule.Verb is null || rule.Verb == verb)
                    && (rule.Namespace is null || rule.Namespace == @namespace))
                {
                    rule.Remaining--;
                    if (rule.Remaining == 0)
                    {
                        _rules.RemoveAt(i);
                    }

                    return ApiErrors.ForCode(rule.StatusCode, rule.Message);
                }
            }

            return null;
        }
    }

    private sealed class FailureRule(string? resource, string? verb, string? @namespace, int statusCode, string message, int remaining)
    {
        public string? Resource { get; } = resource;

        public string? Verb { get; } = verb;

        public string? Namespace { get; } = @namespace;

        public int StatusCode { get; } = statusCode;

        public string Message { get; } = message;

        public int Remaining { get; set; } = remaining;
    }
}
