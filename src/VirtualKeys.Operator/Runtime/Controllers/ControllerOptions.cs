namespace VirtualKeys.Operator.Runtime.Controllers;

public sealed class ControllerOptions
{
    /// <summary>Names the controller in logs and metrics; defaults to the kind.</summary>
    public string? Name { get; set; }

    /// <summary>Reconciles run at once, never two on one key.</summary>
    public int Workers { get; set; } = 2;

    /// <summary>Wait after a key's first failed reconcile; doubles with each further failure.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryBaseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay);
    }
}
