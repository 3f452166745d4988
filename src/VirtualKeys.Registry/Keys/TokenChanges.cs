using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Registry.Keys;

/// <summary>Token changes applied in the same transaction as the key.</summary>
/// <param name="Issue">Tokens to accept from now on. Issuing a token already stored changes nothing, so reconciles can repeat it.</param>
/// <param name="RetireOthersAt">
/// When set, every other token of the key stops working at that time (now: at once; now + grace: a
/// rotation). A token already retiring earlier keeps its earlier end.
/// </param>
public sealed record TokenChanges(IReadOnlyList<VirtualKeyToken> Issue, DateTimeOffset? RetireOthersAt = null)
{
    public static TokenChanges None { get; } = new([]);
}
