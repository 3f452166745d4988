using Npgsql;
using VirtualKeys.Registry;

namespace VirtualKeys.Operator.Hosting;

/// <summary>Answers "is the registry reachable" for /readyz with one short query, at most once a second.</summary>
public sealed class RegistryProbe(VirtualKeyRegistry registry, TimeProvider timeProvider)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, bool Reachable, string? Error)? _last;

    public string Endpoint => registry.Database.Endpoint;

    public async Task<(bool Reachable, string? Error)> CheckAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var now = timeProvider.GetUtcNow();
            if (_last is { } last && now - last.At < CacheFor)
            {
                return (last.Reachable, last.Error);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            (bool, string?) result;
            try
            {
                await registry.Database.RunAsync(
                    async (connection, ct) =>
                    {
                        await using var command = new NpgsqlCommand("SELECT 1", connection);
                        return await command.ExecuteScalarAsync(ct);
                    },
                    timeout.Token);
                result = (true, null);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                result = (false, e is OperationCanceledException ? $"no answer from {Endpoint} within {Timeout.TotalSeconds:0} s" : e.Message);
            }

            _last = (now, result.Item1, result.Item2);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }
}
