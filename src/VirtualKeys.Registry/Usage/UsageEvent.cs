namespace VirtualKeys.Registry.Usage;

/// <summary>One request made with a virtual key, or several refused ones of the same cause.</summary>
/// <param name="RequestId">Unique per event: a batch that is sent twice is counted once.</param>
/// <param name="RejectionCause">Why the request was refused (e.g. RateLimited, BudgetExhausted); null when it was served.</param>
/// <param name="Count">
/// Requests this event stands for: always 1 for a served request (audit and billing need its id), the
/// number of refusals for an aggregated refused one.
/// </param>
/// <param name="CountsForBudget">
/// Whether the key has a budget: the shared budget pool reads a key's recorded spend by key at every
/// grant, so such an event is added up per key at once (<c>vk.usage_pending</c>). Otherwise the next
/// fold adds it up from the events themselves, which costs PostgreSQL about half as much per event.
/// Every usage figure read counts the event exactly once either way; true is always safe.
/// </param>
public sealed record UsageEvent(
    string RequestId,
    string KeyId,
    DateTimeOffset OccurredAt,
    string? Model,
    string? Provider,
    long InputTokens,
    long OutputTokens,
    decimal CostUsd,
    string? RejectionCause = null,
    int Count = 1,
    bool CountsForBudget = true);
