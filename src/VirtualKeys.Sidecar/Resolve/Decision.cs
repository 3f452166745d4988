using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Pricing;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>An admitted request: it holds a parallel slot, quota reservations and a usage-buffer place until settled once.</summary>
internal sealed class Decision
{
    private int _settled;

    public required string Id { get; init; }

    public required ServingKey Key { get; init; }

    public required string Model { get; init; }

    public required string ModelLabel { get; init; }

    public required ModelPrice Price { get; init; }

    public required QuotaTicket Ticket { get; init; }

    public required long EstimatedInputTokens { get; init; }

    public required long MaxOutputTokens { get; init; }

    /// <summary>Providers to try, in order.</summary>
    public required ServingProvider[] Candidates { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>True for exactly one caller: the one that settles.</summary>
    public bool TryClaim() => Interlocked.Exchange(ref _settled, 1) == 0;
}
