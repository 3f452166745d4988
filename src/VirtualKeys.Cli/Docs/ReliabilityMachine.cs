using System.Globalization;
using System.Runtime.InteropServices;

namespace VirtualKeys.Cli.Docs;

/// <summary>The machine the page is rendered on, in a few words: scripts/reliability renders right after measuring.</summary>
internal static class ReliabilityMachine
{
    public static string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"{RuntimeInformation.OSDescription.Trim()} ({RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}), {Environment.ProcessorCount} logical CPU(s), {RuntimeInformation.FrameworkDescription}");
}
