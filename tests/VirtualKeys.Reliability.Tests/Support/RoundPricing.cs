using System.Globalization;
using System.Text;

namespace VirtualKeys.Reliability.Tests.Support;

/// <summary>
/// A pricing file (<c>Sidecar__PricingFile</c>) for one model at one dollar per thousand tokens, in and
/// out, so that costs are round numbers; the file is deleted on disposal.
/// </summary>
internal sealed class RoundPricing : IDisposable
{
    public const decimal PricePerMillion = 1000m;

    private RoundPricing(string path) => FilePath = path;

    public string FilePath { get; }

    public static async Task<RoundPricing> WriteAsync(string model, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), "vk-reliability-pricing-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(
            path,
            string.Create(CultureInfo.InvariantCulture, $$"""{ "models": { "{{model}}": { "inputPerMillionUsd": {{PricePerMillion}}, "outputPerMillionUsd": {{PricePerMillion}} } } }"""),
            cancellationToken);
        return new RoundPricing(path);
    }

    public static decimal Cost(long tokens) => tokens * PricePerMillion / 1_000_000m;

    /// <summary>The input tokens the sidecar reserves for a request body it proxies: one per four bytes.</summary>
    public static long EstimatedInputTokens(string body) => (Encoding.UTF8.GetByteCount(body) + 3) / 4;

    public void Dispose() => File.Delete(FilePath);
}
