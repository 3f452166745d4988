using System.Globalization;

namespace VirtualKeys.Model;

/// <summary>
/// Reads and writes the US-dollar amounts that the resource carries as strings
/// (<c>spec.budget.maxCostUsd</c>, <c>status.usage.costUsd</c>, <c>status.budgetRemainingUsd</c>):
/// Kubernetes has no decimal type, and a float would lose cents.
/// </summary>
public static class UsdAmount
{
    /// <summary>Digits with an optional fraction, no sign, exponent, spaces or thousands separators.</summary>
    public const string Pattern = @"^[0-9]+(\.[0-9]+)?$";

    /// <summary>
    /// Parses <paramref name="text"/> in the invariant format of <see cref="Pattern"/>, also accepting a
    /// leading minus so that callers can tell a negative amount from a malformed one.
    /// </summary>
    public static bool TryParse(string? text, out decimal amount)
    {
        amount = 0;
        if (string.IsNullOrEmpty(text) || text.Length > 40)
        {
            return false;
        }

        var digits = text[0] == '-' ? text.AsSpan(1) : text.AsSpan();
        var point = digits.IndexOf('.');
        var whole = point < 0 ? digits : digits[..point];
        var fraction = point < 0 ? [] : digits[(point + 1)..];
        if (whole.IsEmpty || !IsDigits(whole) || (point >= 0 && (fraction.IsEmpty || !IsDigits(fraction))))
        {
            return false;
        }

        return decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out amount);
    }

    /// <summary>Formats with at least two and at most six decimals, e.g. <c>12.50</c> or <c>0.000125</c>.</summary>
    public static string Format(decimal amount) => amount.ToString("0.00####", CultureInfo.InvariantCulture);

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }
}
