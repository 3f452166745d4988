namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>Tokens of the seeded keys, kept in memory only (handed to wrk through its environment).</summary>
/// <param name="LimitedToken">The token of the key with the RPM limit under test.</param>
/// <param name="LimitedKeyId">Its public key id, as usage events name it.</param>
/// <param name="UnlimitedTokens">Tokens of every key without limits.</param>
internal sealed record SeededKeys(string LimitedToken, string LimitedKeyId, IReadOnlyList<string> UnlimitedTokens)
{
    public override string ToString() => $"SeededKeys {{ LimitedKeyId = {LimitedKeyId}, UnlimitedTokens = {UnlimitedTokens.Count} }}";
}
