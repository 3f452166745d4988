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
    /// Exact match first; failing that, a snapshot suffix (see <see cref="SnapshotSuffixLength"/>) is taken
    /// off the end and the rest looked up, repeatedly, so "claude-sonnet-4-20250514" is priced as
    /// "claude-sonnet-4" and "gpt-4o-2024-08-06" as "gpt-4o". Nothing else is taken off: "o1-pro",
    /// "gpt-4o-audio-preview" or "gpt-4o-anything" are other models, priced only when listed themselves,
    /// else at <see cref="UnknownModelPrice"/>. Allocation-free.
    /// </summary>
    public bool TryFind(ReadOnlySpan<char> model, out ModelPrice price) => TryFind(model, out price, out _);

    /// <param name="entry">The table's name for the price found (the model, or the undated model that priced its snapshot).</param>
    public bool TryFind(ReadOnlySpan<char> model, out ModelPrice price, [NotNullWhen(true)] out string? entry)
    {
        var candidate = model;
        while (true)
        {
            if (_bySpan.TryGetValue(candidate, out entry, out price))
            {
                return true;
            }

            var suffix = SnapshotSuffixLength(candidate);
            if (suffix == 0)
            {
                price = UnknownModelPrice;
                entry = null;
                return false;
            }

            candidate = candidate[..^suffix];
        }
    }

    /// <summary>
    /// The length of the suffix at the end of <paramref name="model"/> (its leading '-' included) that names
    /// a snapshot or version alias of the model before it, or 0. Providers' dated and versioned ids:
    /// <list type="bullet">
    /// <item><c>-YYYY-MM-DD</c> (OpenAI: gpt-4o-2024-08-06), <c>-YYYYMMDD</c> (Anthropic: claude-sonnet-4-20250514),
    /// <c>-MMDD</c> (OpenAI: gpt-3.5-turbo-0125); years 20xx, months 01-12, days 01-31;</item>
    /// <item><c>-latest</c> (claude-3-5-haiku-latest);</item>
    /// <item><c>-0NN</c>, three digits starting with 0 (Gemini's stable versions: gemini-2.0-flash-001);</item>
    /// <item><c>-preview-</c> or <c>-exp-</c> followed by a date without a year or with the year last:
    /// <c>MM-DD</c>, <c>MMDD</c> or <c>MM-YYYY</c> (Gemini: gemini-2.5-pro-preview-06-05, gemini-2.5-flash-preview-09-2025).</item>
    /// </list>
    /// A bare "-preview" or "-exp" is not one (o1-preview, gpt-4o-audio-preview are models of their own), nor is
    /// "-preview-" before a date with its year first (o1-preview-2024-09-12 is a snapshot of o1-preview).
    /// </summary>
    private static int SnapshotSuffixLength(ReadOnlySpan<char> model)
    {
        if (!TrySplitLast(model, out var rest, out var last))
        {
            return 0;
        }

        if (last.SequenceEqual("latest") || IsVersion(last) || IsYearMonthDay(last))
        {
            return model.Length - rest.Length;
        }

        if (IsDay(last) && TrySplitLast(rest, out var beforeMonth, out var month) && IsMonth(month))
        {
            return TrySplitLast(beforeMonth, out var beforeYear, out var year) && IsYear(year)
                ? model.Length - beforeYear.Length
                : MarkedDateLength(model, beforeMonth);
        }

        if (IsYear(last) && TrySplitLast(rest, out beforeMonth, out month) && IsMonth(month))
        {
            return MarkedDateLength(model, beforeMonth);
        }

        if (IsMonthDay(last))
        {
            var marked = MarkedDateLength(model, rest);
            return marked > 0 ? marked : model.Length - rest.Length;
        }

        return 0;
    }

    // The suffix from a "-preview" or "-exp" that ends beforeDate to the end of the model, or 0 without one.
    private static int MarkedDateLength(ReadOnlySpan<char> model, ReadOnlySpan<char> beforeDate) =>
        TrySplitLast(beforeDate, out var rest, out var marker) && marker is "preview" or "exp" ? model.Length - rest.Length : 0;

    // Splits at the last '-', when there is a non-empty part before it.
    private static bool TrySplitLast(ReadOnlySpan<char> text, out ReadOnlySpan<char> before, out ReadOnlySpan<char> last)
    {
        var dash = text.LastIndexOf('-');
        if (dash <= 0)
        {
            before = last = default;
            return false;
        }

        before = text[..dash];
        last = text[(dash + 1)..];
        return true;
    }

    private static bool IsVersion(ReadOnlySpan<char> s) => s.Length == 3 && s[0] == '0' && char.IsAsciiDigit(s[1]) && char.IsAsciiDigit(s[2]);

    private static bool IsYearMonthDay(ReadOnlySpan<char> s) => s.Length == 8 && IsYear(s[..4]) && IsMonthDay(s[4..]);

    private static bool IsMonthDay(ReadOnlySpan<char> s) => s.Length == 4 && IsMonth(s[..2]) && IsDay(s[2..]);

    private static bool IsYear(ReadOnlySpan<char> s) => s.Length == 4 && s[0] == '2' && s[1] == '0' && char.IsAsciiDigit(s[2]) && char.IsAsciiDigit(s[3]);

    private static bool IsMonth(ReadOnlySpan<char> s) => TwoDigits(s) is >= 1 and <= 12;

    private static bool IsDay(ReadOnlySpan<char> s) => TwoDigits(s) is >= 1 and <= 31;

    private static int TwoDigits(ReadOnlySpan<char> s) =>
        s.Length == 2 && char.IsAsciiDigit(s[0]) && char.IsAsciiDigit(s[1]) ? ((s[0] - '0') * 10) + (s[1] - '0') : -1;

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
                decimal? cached = model.Value.TryGetProperty("cachedInputPerMillionUsd", out var c) ? c.GetDecimal() : null;
                decimal? cacheWrite = model.Value.TryGetProperty("cacheWriteInputPerMillionUsd", out var w) ? w.GetDecimal() : null;
                decimal? cacheWriteOneHour = model.Value.TryGetProperty("cacheWriteOneHourInputPerMillionUsd", out var h) ? h.GetDecimal() : null;
                if (input < 0 || output < 0 || cached < 0 || cacheWrite < 0 || cacheWriteOneHour < 0)
                {
                    throw new InvalidOperationException($"{source}: model {model.Name} has a negative price.");
                }

                into[model.Name] = new ModelPrice(input, output)
                {
                    CachedInputPerMillionUsd = cached,
                    CacheWriteInputPerMillionUsd = cacheWrite,
                    CacheWriteOneHourInputPerMillionUsd = cacheWriteOneHour,
                };
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or FormatException)
        {
            throw new InvalidOperationException($"{source}: {ex.Message}", ex);
        }
    }
}
