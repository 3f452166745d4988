using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>UTC period boundaries: midnight, ISO week (Monday), first of the month, or never.</summary>
public static class BudgetPeriods
{
    public static DateTimeOffset Start(BudgetPeriod period, DateTimeOffset now)
    {
        var day = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        return period switch
        {
            BudgetPeriod.Daily => day,
            BudgetPeriod.Weekly => day.AddDays(-(((int)day.DayOfWeek + 6) % 7)),
            BudgetPeriod.Monthly => new DateTimeOffset(day.Year, day.Month, 1, 0, 0, 0, TimeSpan.Zero),
            BudgetPeriod.Total => DateTimeOffset.MinValue,
            _ => throw new ArgumentOutOfRangeException(nameof(period), period, null),
        };
    }

    /// <summary>Null for <see cref="BudgetPeriod.Total"/>, which never rolls over.</summary>
    public static DateTimeOffset? NextStart(BudgetPeriod period, DateTimeOffset now)
    {
        var start = Start(period, now);
        return period switch
        {
            BudgetPeriod.Daily => start.AddDays(1),
            BudgetPeriod.Weekly => start.AddDays(7),
            BudgetPeriod.Monthly => start.AddMonths(1),
            _ => null,
        };
    }
}
