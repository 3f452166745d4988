using System.Globalization;

namespace VirtualKeys.Cli.Output;

/// <summary>Short human durations as kubectl's AGE column prints them: 45s, 12m, 3h, 5d.</summary>
internal static class Durations
{
    public static string Short(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            duration = TimeSpan.Zero;
        }

        return duration.TotalSeconds < 120 ? Format(duration.TotalSeconds, "s")
            : duration.TotalMinutes < 120 ? Format(duration.TotalMinutes, "m")
            : duration.TotalHours < 48 ? Format(duration.TotalHours, "h")
            : Format(duration.TotalDays, "d");
    }

    private static string Format(double value, string unit) =>
        ((long)Math.Floor(value)).ToString(CultureInfo.InvariantCulture) + unit;
}
