using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace VirtualKeys.Sidecar.Pricing;

/// <summary>
/// Prices per model: the table shipped in the assembly (approximate public list prices), with entries
/// from an optional mounted file taking precedence. Unknown models are priced by a configurable default.
/// </summary>
public sealed class PricingTable
{
    private const string ResourceName = "VirtualKeys.Sidecar.Pricing.pricing.json";

    private readonly Dictionary<string, ModelPrice> _prices;
    private readonly Dictionary<string, ModelPrice>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    public PricingTable(IReadOnlyDictionary<string, ModelPrice> prices, ModelPrice unknownModelPrice)
    {
        ArgumentNullException.ThrowIfNull(prices);
        _prices = new Dictionary<string, ModelPrice>(prices, StringComparer.Ordinal);
        _bySpan = _prices.GetAlternateLookup<ReadOnlySpan<char>>();
        UnknownModelPrice = unknownModelPrice;
    }

    public ModelPrice UnknownModelPrice { get; }

    public IReadOnlyDictionary<string, ModelPrice> Prices => _prices;

    /// <summary>The shipped table, overridden model by model by <paramref name="overrideFile"/> when given.</summary>
    public static PricingTable Load(string? overrideFile, ModelPrice unknownModelPrice)
    {
        var prices = new Dictionary<string, ModelPrice>(StringComparer.Ordinal);
        using (var shipped = typeof(PricingTable).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded pricing table {ResourceName} is missing."))
        {
            Read(shipped, "the shipped pricing table", prices);
        }

        if (!string.IsNullOrEmpty(overrideFile))
        {
            try
            {
                using var file = File.OpenRead(overrideFile);
                Read(file, overrideFile, prices);
            }
            catch (IOException ex)
            {
                throw new InvalidOperationException($"Cannot read the pricing file {overrideFile}: {ex.Message}", ex);
            }
        }

        return new PricingTable(prices, unknownModelPrice);
    }

    /// <summary>
    /// Exact match first, then the longest known prefix ending at a '-' (so "claude-sonnet-4-20250514"
    /// is priced as "claude-sonnet-4"). Allocation-free.
    /// </summary>
    public bool TryFind(ReadOnlySpan<char> model, out ModelPrice price) => TryFind(model, out price, out _);

    /// <param name="entry">The table's name for the price found (the model, or the prefix that priced it).</param>
    public bool TryFind(ReadOnlySpan<char> model, out ModelPrice price, [NotNullWhen(true)] out string? entry)
    {
        var candidate = model;
        while (true)
        {
            if (_bySpan.TryGetValue(candidate, out entry, out price))
            {
                return true;
            }

            var dash = candidate.LastIndexOf('-');
            if (dash <= 0)
            {
                price = UnknownModelPrice;
                entry = null;
                return false;
            }

            candidate = candidate[..dash];
        }
    }

    public ModelPrice Find(string model, out bool known)
    {
        known = TryFind(model, out var price);
        return price;
    }

    private static void Read(Stream json, string source, Dictionary<string, ModelPrice> into)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (!document.RootElement.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidOperationException($"{source}: expected an object with a \"models\" object.");
            }

            foreach (var model in models.EnumerateObject())
            {
                var input = model.Value.GetProperty("inputPerMillionUsd").GetDecimal();
                var output = model.Value.TryGetProperty("outputPerMillionUsd", out var o) ? o.GetDecimal() : 0m;
                if (input < 0 || output < 0)
                {
                    throw new InvalidOperationException($"{source}: model {model.Name} has a negative price.");
                }

                into[model.Name] = new ModelPrice(input, output);
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or FormatException)
        {
            throw new InvalidOperationException($"{source}: {ex.Message}", ex);
        }
    }
}
