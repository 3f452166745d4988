namespace VirtualKeys.Reliability.Tests.Support;

/// <summary>
/// Scenarios whose assertion is a duration the system promises (a takeover within the lease
/// duration) run alone, after the others: on two cores, a scenario running beside another measures
/// the other one's load as much as the system.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "Timed scenarios, run alone";
}
