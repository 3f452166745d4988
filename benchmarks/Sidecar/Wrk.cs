using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>Runs wrk with the run's Lua script and reads the figures its <c>done()</c> hook prints.</summary>
internal sealed class Wrk
{
    /// <summary>A single environment variable may hold at most 128 KiB; tokens are about 64 bytes with the comma.</summary>
    private const int TokensPerVariable = 1000;

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly string _program;
    private readonly string _scriptFile;

    private Wrk(string program, string scriptFile)
    {
        _program = program;
        _scriptFile = scriptFile;
    }

    /// <exception cref="InvalidOperationException">wrk is not installed.</exception>
    public static async Task<Wrk> CreateAsync(string runDirectory, CancellationToken cancellationToken)
    {
        var program = Tools.Find("wrk") ?? throw new InvalidOperationException("wrk is not on PATH: apt-get install wrk");
        var script = Path.Combine(runDirectory, "bench.lua");
        await File.WriteAllTextAsync(script, WrkScript.Text, cancellationToken);
        return new Wrk(program, script);
    }

    public async Task<WrkResult> RunAsync(
        Uri url,
        string kind,
        IReadOnlyList<string> tokens,
        int threads,
        int connections,
        TimeSpan duration,
        CancellationToken cancellationToken,
        int delayMs = 0)
    {
        var start = new ProcessStartInfo(_program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "-t", threads.ToString(CultureInfo.InvariantCulture),
            "-c", connections.ToString(CultureInfo.InvariantCulture),
            "-d", string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalSeconds}s"),
            "--timeout", "5s",
            "-s", _scriptFile,
            url.AbsoluteUri,
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["VK_BENCH_KIND"] = kind;
        start.Environment["VK_BENCH_DELAY_MS"] = delayMs.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i * TokensPerVariable < tokens.Count; i++)
        {
            start.Environment["VK_BENCH_TOKENS_" + (i + 1).ToString(CultureInfo.InvariantCulture)] =
                string.Join(',', tokens.Skip(i * TokensPerVariable).Take(TokensPerVariable));
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        var line = (await output).Split('\n').LastOrDefault(l => l.StartsWith(WrkScript.ResultPrefix, StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"wrk against {url} exited with {process.ExitCode} and no result: {(await error).Trim()}");
        }

        return JsonSerializer.Deserialize<WrkResult>(line[WrkScript.ResultPrefix.Length..], JsonOptions)
            ?? throw new InvalidOperationException("wrk printed an empty result");
    }
}
