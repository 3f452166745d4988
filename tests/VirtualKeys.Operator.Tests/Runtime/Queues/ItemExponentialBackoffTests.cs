using VirtualKeys.Operator.Runtime.Queues;

namespace VirtualKeys.Operator.Tests.Runtime.Queues;

public sealed class ItemExponentialBackoffTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(5, 32)]
    [InlineData(6, 60)]
    [InlineData(1000, 60)]
    public void Delay_doubles_per_failure_and_never_passes_the_cap(int exponent, int expectedSeconds)
    {
        var delay = ItemExponentialBackoff<string>.Delay(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), exponent);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), delay);
    }

    [Fact]
    public void Items_back_off_independently()
    {
        var backoff = new ItemExponentialBackoff<string>(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));

        backoff.When("a");
        backoff.When("a");
        var b = backoff.When("b");

        Assert.Equal(TimeSpan.FromSeconds(1), b);
        Assert.Equal(2, backoff.NumRequeues("a"));
        Assert.Equal(1, backoff.NumRequeues("b"));
    }

    [Fact]
    public void A_cap_below_the_base_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ItemExponentialBackoff<string>(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)));
    }
}
