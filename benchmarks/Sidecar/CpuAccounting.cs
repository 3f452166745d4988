using System.Globalization;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// CPU time of each party of a run, read from /proc: where the machine's cores went while wrk ran.
/// Throughput on a shared machine moves with everyone else's load; CPU time per request much less.
/// </summary>
internal sealed class CpuAccounting(string postgresDataDirectory)
{
    /// <summary>Linux reports process times in USER_HZ ticks, 100 per second on every mainstream build.</summary>
    private const double TicksPerSecond = 100;

    public const string Sidecar = "sidecar";
    public const string Nginx = "nginx";
    public const string Postgres = "postgres";
    public const string Benchmark = "benchmark process (mock upstream, Kestrel baseline)";
    public const string Children = "wrk";
    public const string Machine = "machine";

    /// <summary>Process groups of the servers measured: a sidecar's and nginx's (session leaders, see ChildProcess).</summary>
    public Dictionary<string, int> Groups { get; } = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, double> Sample()
    {
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [Machine] = MachineBusyTicks() / TicksPerSecond,
        };
        foreach (var name in Groups.Keys.Append(Postgres))
        {
            seconds[name] = 0;
        }

        var self = Environment.ProcessId;
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));

                // "pid (comm) state ppid pgrp ... utime stime cutime cstime": fields after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var group = int.Parse(fields[2], CultureInfo.InvariantCulture);
                var own = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
                if (pid == self)
                {
                    // Reaped children (every wrk run, a few kill/chown) add to this process's cutime and cstime.
                    seconds[Benchmark] = own;
                    seconds[Children] = (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / TicksPerSecond;
                    continue;
                }

                foreach (var (name, leader) in Groups)
                {
                    if (group == leader)
                    {
                        seconds[name] += own;
                    }
                }

                if (File.ResolveLinkTarget(Path.Combine(entry, "cwd"), returnFinalTarget: false)?.FullName == postgresDataDirectory)
                {
                    seconds[Postgres] += own;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The process ended while being read.
            }
        }

        return seconds;
    }

    /// <summary>CPU seconds each party used between two samples; "others" is the rest of the machine.</summary>
    public static Dictionary<string, double> Between(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after)
    {
        var used = after.ToDictionary(p => p.Key, p => Math.Max(0, p.Value - before.GetValueOrDefault(p.Key)), StringComparer.Ordinal);
        used["others"] = Math.Max(0, used[Machine] - used.Where(p => p.Key != Machine).Sum(p => p.Value));
        return used;
    }

    public static string Describe(Dictionary<string, double> used, double wallSeconds) =>
        string.Create(CultureInfo.InvariantCulture, $"CPU seconds of {Environment.ProcessorCount * wallSeconds:F0} available: ")
        + string.Join(", ", used.Where(p => p.Key != Machine && p.Value >= 0.05).OrderByDescending(p => p.Value)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value:F1}")));

    private static long MachineBusyTicks()
    {
        // "cpu user nice system idle iowait irq softirq steal ...": busy is everything but idle and iowait.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return fields.Take(8).Sum() - fields[3] - fields[4];
    }
}
