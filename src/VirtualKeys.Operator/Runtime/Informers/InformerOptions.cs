namespace VirtualKeys.Operator.Runtime.Informers;

public sealed class InformerOptions
{
    /// <summary>Namespaces to watch, one list+watch each; empty watches all namespaces with one.</summary>
    public IList<string> Namespaces { get; set; } = [];

    /// <summary>
    /// How often every cached object is handed to the handlers again as an update, so a reconcile
    /// that was dropped or whose outside world drifted runs again. Zero turns resync off.
    /// </summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Asks the server to end each watch after this long; the informer resumes it at once.</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Wait after the first failed list or watch; doubles with each consecutive failure.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ResyncPeriod, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(WatchTimeout, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryBaseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay);
        foreach (var ns in Namespaces)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(ns, nameof(Namespaces));
        }
    }
}
