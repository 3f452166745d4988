namespace VirtualKeys.Reliability.Tests.Support;

/// <summary>
/// How long and how hard the scenarios run. CI runs the short variants (seconds each); the command
/// that regenerates docs/reliability.md (<c>scripts/reliability</c>) sets <c>VK_RELIABILITY_FULL=1</c>
/// for the long ones. Both are bounded in time.
/// </summary>
public static class ReliabilityRun
{
    public const string FullVariable = "VK_RELIABILITY_FULL";
    public const string OutputVariable = "VK_RELIABILITY_OUT";

    /// <summary>True when the long variants run (the published figures).</summary>
    public static bool IsFull => Environment.GetEnvironmentVariable(FullVariable) is "1" or "true";

    /// <summary>Picks the short or the long value of a knob (a duration, a count).</summary>
    public static T Pick<T>(T quick, T full) => IsFull ? full : quick;

    /// <summary>
    /// Where scenario figures go: <c>VK_RELIABILITY_OUT</c> when set, else <c>artifacts/reliability</c>
    /// under the repository root (ignored by git).
    /// </summary>
    public static string OutputDirectory
    {
        get
        {
            var configured = Environment.GetEnvironmentVariable(OutputVariable);
            if (!string.IsNullOrWhiteSpace(configured))
            {
                return Path.GetFullPath(configured);
            }

            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Operator.sln")))
            {
                dir = dir.Parent;
            }

            var root = dir?.FullName ?? Path.GetTempPath();
            return Path.Combine(root, "artifacts", "reliability");
        }
    }
}
