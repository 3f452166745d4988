namespace VirtualKeys.Sidecar.Pricing;

public readonly record struct ModelPrice(decimal InputPerMillionUsd, decimal OutputPerMillionUsd)
{
    public decimal Cost(long inputTokens, long outputTokens) =>
        ((inputTokens * InputPerMillionUsd) + (outputTokens * OutputPerMillionUsd)) / 1_000_000m;
}
