using System.Globalization;

namespace VirtualKeys.Operator.Benchmarks;

/// <summary>The run's shape, from <c>--name value</c> pairs; every one has the default issue #4 asks for.</summary>
internal sealed record BenchmarkOptions
{
    public int Keys { get; init; } = 10_000;

    /// <summary>Provider Secrets, spread evenly over the namespaces and shared by the keys there.</summary>
    public int Secrets { get; init; } = 300;

    public int Namespaces { get; init; } = 10;

    /// <summary>The operator's Operator__Workers.</summary>
    public int Workers { get; init; } = 4;

    /// <summary>The operator's informer resync period: the idle phase waits for one full resync.</summary>
    public TimeSpan Resync { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Keys that get usage recorded in the registry, for the usage-sync figures.</summary>
    public int UsageKeys { get; init; } = 100;

    /// <summary>The whole run is abandoned (and cleaned up) after this long.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(6);

    public const string Usage =
        "benchmarks/run operator [--keys N] [--secrets N] [--namespaces N] [--workers N] [--resync-seconds S] [--usage-keys N] [--timeout-seconds S]";

    /// <exception cref="ArgumentException">An unknown option or a value that is not a positive whole number.</exception>
    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchmarkOptions();
        for (var i = 0; i < args.Count; i += 2)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{name} needs a value");
            }

            if (!int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
            {
                throw new ArgumentException($"{name} must be a whole number greater than 0, not '{args[i + 1]}'");
            }

            options = name switch
            {
                "--keys" => options with { Keys = value },
                "--secrets" => options with { Secrets = value },
                "--namespaces" => options with { Namespaces = value },
                "--workers" => options with { Workers = value },
                "--resync-seconds" => options with { Resync = TimeSpan.FromSeconds(value) },
                "--usage-keys" => options with { UsageKeys = value },
                "--timeout-seconds" => options with { Timeout = TimeSpan.FromSeconds(value) },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        if (options.Secrets < options.Namespaces || options.Keys < options.Namespaces)
        {
            throw new ArgumentException("every namespace needs at least one Secret and one key: --secrets and --keys must be at least --namespaces");
        }

        return options with { UsageKeys = Math.Min(options.UsageKeys, options.Keys) };
    }
}
