using System.Diagnostics;
using System.Globalization;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>One progress line per step, stamped with the time since start, so a run is never silent.</summary>
internal static class Progress
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public static void Line(string message) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{Clock.Elapsed:mm\\:ss}] {message}"));
}
