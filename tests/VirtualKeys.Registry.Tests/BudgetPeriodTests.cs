using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Tests;

public sealed class BudgetPeriodTests
{
    [Theory]
    [InlineData(BudgetPeriodKind.Daily, "2024-03-04T01:30:00+03:00", "2024-03-03T00:00:00Z", "2024-03-04T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Daily, "2024-02-29T23:59:59Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Weekly, "2024-03-04T01:30:00+03:00", "2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Weekly, "2024-03-04T00:00:00Z", "2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Weekly, "2024-03-10T23:59:59Z", "2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Weekly, "2025-01-01T12:00:00Z", "2024-12-30T00:00:00Z", "2025-01-06T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Monthly, "2024-03-01T00:30:00+01:00", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")]
    [InlineData(BudgetPeriodKind.Monthly, "2024-12-31T23:00:00-05:00", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")]
    public void Period_boundaries_are_in_UTC_whatever_the_offset(BudgetPeriodKind period, string at, string expectedStart, string expectedEnd)
    {
        var instant = DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture);

        var start = BudgetPeriod.StartOf(period, instant);

        Assert.Equal(DateTimeOffset.Parse(expectedStart, System.Globalization.CultureInfo.InvariantCulture), start);
        Assert.Equal(TimeSpan.Zero, start.Offset);
        Assert.Equal(DateTimeOffset.Parse(expectedEnd, System.Globalization.CultureInfo.InvariantCulture), BudgetPeriod.EndOf(period, instant));
    }

    [Fact]
    public void Total_period_never_resets()
    {
        var at = new DateTimeOffset(2031, 7, 9, 10, 0, 0, TimeSpan.Zero);

        Assert.Equal(BudgetPeriod.TotalStart, BudgetPeriod.StartOf(BudgetPeriodKind.Total, at));
        Assert.Null(BudgetPeriod.EndOf(BudgetPeriodKind.Total, at));
    }
}
