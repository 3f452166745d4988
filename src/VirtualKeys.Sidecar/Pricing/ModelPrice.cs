namespace VirtualKeys.Sidecar.Pricing;

/// <summary>
/// A model's list prices per million tokens. Cached input (a prompt-cache hit: OpenAI's
/// <c>cached_tokens</c>, Anthropic's <c>cache_read_input_tokens</c>) and cache writes (Anthropic's
/// <c>cache_creation_input_tokens</c>) have prices of their own where the provider discounts or
/// surcharges them; without one they cost the input price. Writes kept for an hour (Anthropic's
/// <c>ephemeral_1h_input_tokens</c>) cost more than those kept for five minutes; without a price of
/// their own they cost the cache-write price.
/// </summary>
public readonly record struct ModelPrice(decimal InputPerMillionUsd, decimal OutputPerMillionUsd)
{
    public decimal? CachedInputPerMillionUsd { get; init; }

    /// <summary>Cache writes kept for five minutes, Anthropic's default (and for an hour without <see cref="CacheWriteOneHourInputPerMillionUsd"/>).</summary>
    public decimal? CacheWriteInputPerMillionUsd { get; init; }

    public decimal? CacheWriteOneHourInputPerMillionUsd { get; init; }

    public decimal Cost(long inputTokens, long outputTokens) =>
        ((inputTokens * InputPerMillionUsd) + (outputTokens * OutputPerMillionUsd)) / 1_000_000m;

    /// <param name="inputTokens">Every input token, cached and cache writes included.</param>
    /// <param name="cachedInputTokens">Of those, read from the provider's prompt cache.</param>
    /// <param name="cacheWriteInputTokens">Of those, written to it.</param>
    /// <param name="cacheWriteOneHourInputTokens">Of the writes, those kept for an hour.</param>
    public decimal Cost(long inputTokens, long outputTokens, long cachedInputTokens, long cacheWriteInputTokens, long cacheWriteOneHourInputTokens = 0)
    {
        // Parts of the input, never more than all of it (a report is the provider's word, not checked).
        var cached = Math.Clamp(cachedInputTokens, 0, inputTokens);
        var written = Math.Clamp(cacheWriteInputTokens, 0, inputTokens - cached);
        var writtenForAnHour = Math.Clamp(cacheWriteOneHourInputTokens, 0, written);
        var uncached = inputTokens - cached - written;
        var writePrice = CacheWriteInputPerMillionUsd ?? InputPerMillionUsd;
        return ((uncached * InputPerMillionUsd)
            + (cached * (CachedInputPerMillionUsd ?? InputPerMillionUsd))
            + ((written - writtenForAnHour) * writePrice)
            + (writtenForAnHour * (CacheWriteOneHourInputPerMillionUsd ?? writePrice))
            + (outputTokens * OutputPerMillionUsd)) / 1_000_000m;
    }
}
