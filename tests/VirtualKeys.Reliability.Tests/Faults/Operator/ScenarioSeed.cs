using System.Globalization;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// The seed of a scenario's randomness: <c>VK_RELIABILITY_SEED</c> when set (to replay a run),
/// else a fresh one. Printed to the test output so that any failure names the run that found it.
/// </summary>
internal static class ScenarioSeed
{
    public const string Variable = "VK_RELIABILITY_SEED";

    public static int Next(string scenario)
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        var seed = int.TryParse(configured, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : Random.Shared.Next();
        TestContext.Current.TestOutputHelper?.WriteLine($"{scenario}: seed {seed} (replay with {Variable}={seed})");
        return seed;
    }
}
