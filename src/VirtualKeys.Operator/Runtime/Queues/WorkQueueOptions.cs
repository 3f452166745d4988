namespace VirtualKeys.Operator.Runtime.Queues;

public sealed class WorkQueueOptions
{
    /// <summary>Names the queue in metrics and logs; one per controller.</summary>
    public string Name { get; set; } = "default";

    /// <summary>Delay after the first failure of a key; doubles with each further failure.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Upper bound of the per-key backoff, so a resource fixed by hand is picked up again within
    /// this time even after many failures.
    /// </summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);
}
