namespace VirtualKeys.Registry.Usage;

/// <summary>
/// Budget period boundaries, always in UTC: a period starts at 00:00 UTC of its first day whatever
/// the offset of the timestamp asked about, so every replica and every time zone agrees.
/// </summary>
public static class BudgetPeriod
{
    /// <summary>Where <see cref="BudgetPeriodKind.Total"/> starts.</summary>
    public static readonly DateTimeOffset TotalStart = DateTimeOffset.UnixEpoch;

    public static DateTimeOffset StartOf(BudgetPeriodKind period, DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        var day = new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero);
        return period switch
        {
            BudgetPeriodKind.Daily => day,
            BudgetPeriodKind.Weekly => day.AddDays(-(((int)utc.DayOfWeek + 6) % 7)),
            BudgetPeriodKind.Monthly => new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero),
            BudgetPeriodKind.Total => TotalStart,
            _ => throw new ArgumentOutOfRangeException(nameof(period), period, "Unknown budget period."),
        };
    }

    /// <summary>When the period holding <paramref name="at"/> ends (the budget resets); null for Total.</summary>
    public static DateTimeOffset? EndOf(BudgetPeriodKind period, DateTimeOffset at)
    {
        var start = StartOf(period, at);
        return period switch
        {
            BudgetPeriodKind.Daily => start.AddDays(1),
            BudgetPeriodKind.Weekly => start.AddDays(7),
            BudgetPeriodKind.Monthly => start.AddMonths(1),
            _ => null,
        };
    }
}
