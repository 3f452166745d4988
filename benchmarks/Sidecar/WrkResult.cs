namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>What wrk's <c>done()</c> hook reports for one run; latencies in microseconds.</summary>
internal sealed record WrkResult
{
    public long Requests { get; init; }

    /// <summary>Resolve calls sent (resolve runs only).</summary>
    public long Resolves { get; init; }

    /// <summary>Usage reports sent, one per decision the thread received (resolve runs only).</summary>
    public long Reports { get; init; }

    public long DurationUs { get; init; }

    public long ConnectErrors { get; init; }

    public long ReadErrors { get; init; }

    public long WriteErrors { get; init; }

    /// <summary>Responses with a status of 400 or more.</summary>
    public long StatusErrors { get; init; }

    public long Timeouts { get; init; }

    public double MeanUs { get; init; }

    public long P50Us { get; init; }

    public long P90Us { get; init; }

    public long P99Us { get; init; }

    public long P999Us { get; init; }

    public long MaxUs { get; init; }

    public long Failures => ConnectErrors + ReadErrors + WriteErrors + StatusErrors + Timeouts;

    /// <summary>Successful responses per second: failures are not throughput.</summary>
    public double SuccessPerSecond => (Requests - StatusErrors - Timeouts) / (DurationUs / 1e6);

    /// <summary>Successful resolve calls per second, each followed by its usage report; all requests for other runs.</summary>
    public double ResolvesPerSecond => Resolves + Reports == 0 ? SuccessPerSecond : SuccessPerSecond * Resolves / (Resolves + Reports);

    public override string ToString() =>
        (Resolves + Reports == 0 ? "" : $"{ResolvesPerSecond:F0} resolves/s + usage reports = ")
        + $"{SuccessPerSecond:F0} req/s ({Requests} requests, {Failures} failed), latency p50 {P50Us / 1000.0:F2} ms, p99 {P99Us / 1000.0:F2} ms, max {MaxUs / 1000.0:F1} ms";
}
