namespace VirtualKeys.Operator.Runtime.Controllers;

/// <summary>What the host needs of a controller, whatever its kind.</summary>
public interface IController
{
    string Name { get; }

    /// <summary>
    /// Runs the workers. Cancelling <paramref name="stopAccepting"/> stops them taking keys and
    /// lets running reconciles finish; cancelling <paramref name="abortInFlight"/> cancels those
    /// too (their keys are queued again). Returns when every worker has stopped.
    /// </summary>
    Task RunAsync(CancellationToken stopAccepting, CancellationToken abortInFlight);

    /// <summary>Ends the queue for good; call once the process no longer needs the controller.</summary>
    void ShutDown();
}
