using System.Text.Json;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Usage;

/// <summary>
/// Usage events and per-period totals. Events are inserted first and only the ones that were new
/// are added to the totals, in the same transaction: that is what makes a replayed batch a no-op.
/// </summary>
internal sealed class UsageStore(RegistryDatabase database, TimeProvider timeProvider)
{
    private static readonly BudgetPeriodKind[] AllPeriods = Enum.GetValues<BudgetPeriodKind>();

    public Task<UsageBatchResult> RecordAsync(IReadOnlyCollection<UsageEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var usage in events)
        {
            ValidateUsage(usage);
        }

        if (events.Count == 0)
        {
            return Task.FromResult(new UsageBatchResult(0, 0));
        }

        var now = timeProvider.GetUtcNow().UtcDateTime;
        return database.RunAsync(
            async (connection, ct) =>
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var inserted = await InsertEventsAsync(connection, transaction, events, now, ct);
                var fresh = events.Where(e => inserted.Remove(e.RequestId)).ToList();
                await AddToTotalsAsync(connection, transaction, fresh, now, ct);
                await transaction.CommitAsync(ct);
                return new UsageBatchResult(fresh.Count, events.Count - fresh.Count);
            },
            cancellationToken);
    }

    /// <summary>Several keys' usage in the same kind of period, in one query (for the usage syncer).</summary>
    public Task<IReadOnlyDictionary<string, UsageTotals>> GetAsync(
        IReadOnlyCollection<string> keyIds,
        BudgetPeriodKind period,
        DateTimeOffset at,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keyIds);
        var start = BudgetPeriod.StartOf(period, at);
        return database.RunAsync<IReadOnlyDictionary<string, UsageTotals>>(
            async (connection, ct) =>
            {
                var rows = await connection.QueryAsync<TotalsRow>(new CommandDefinition(
                    """
                    SELECT key_id AS KeyId, requests AS Requests, input_tokens AS InputTokens, output_tokens AS OutputTokens,
                           cost_usd AS CostUsd, rejections::text AS Rejections, last_request_at AS LastRequestAt
                    FROM vk.usage_totals
                    WHERE key_id = ANY(@keyIds) AND period = @period AND period_start = @start
                    """,
                    new { keyIds = keyIds.ToArray(), period = PeriodText(period), start },
                    cancellationToken: ct));
                var found = rows.ToDictionary(r => r.KeyId, StringComparer.Ordinal);
                var result = new Dictionary<string, UsageTotals>(StringComparer.Ordinal);
                foreach (var keyId in keyIds)
                {
                    result[keyId] = found.TryGetValue(keyId, out var row)
                        ? new UsageTotals(
                            keyId,
                            period,
                            start,
                            row.Requests,
                            row.InputTokens,
                            row.OutputTokens,
                            row.CostUsd,
                            JsonSerializer.Deserialize(row.Rejections, RegistryJsonContext.Default.DictionaryStringInt64) ?? [],
                            row.LastRequestAt is { } last ? new DateTimeOffset(DateTime.SpecifyKind(last, DateTimeKind.Utc)) : null)
                        : new UsageTotals(keyId, period, start, 0, 0, 0, 0m, new Dictionary<string, long>(), null);
                }

                return result;
            },
            cancellationToken);
    }

    private static void ValidateUsage(UsageEvent usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        if (string.IsNullOrEmpty(usage.RequestId) || string.IsNullOrEmpty(usage.KeyId))
        {
            throw new ArgumentException("Every usage event needs a RequestId and a KeyId.", nameof(usage));
        }

        if (usage.InputTokens < 0 || usage.OutputTokens < 0 || usage.CostUsd < 0)
        {
            throw new ArgumentException($"Usage event {usage.RequestId}: tokens and cost must not be negative.", nameof(usage));
        }
    }

    private static string PeriodText(BudgetPeriodKind period) => period.ToString().ToLowerInvariant();

    private static async Task<HashSet<string>> InsertEventsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyCollection<UsageEvent> events,
        DateTime now,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO vk.usage_events (request_id, key_id, occurred_at, model, provider, input_tokens, output_tokens, cost_usd, rejection, recorded_at)
            SELECT e.*, @now FROM unnest(@requestIds, @keyIds, @occurredAt, @models, @providers, @inputTokens, @outputTokens, @costs, @rejections) AS e
            ON CONFLICT (request_id) DO NOTHING
            RETURNING request_id
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = now });
        command.Parameters.Add(Array("requestIds", NpgsqlDbType.Text, events.Select(e => e.RequestId).ToArray()));
        command.Parameters.Add(Array("keyIds", NpgsqlDbType.Text, events.Select(e => e.KeyId).ToArray()));
        command.Parameters.Add(Array("occurredAt", NpgsqlDbType.TimestampTz, events.Select(e => e.OccurredAt.UtcDateTime).ToArray()));
        command.Parameters.Add(Array("models", NpgsqlDbType.Text, events.Select(e => e.Model).ToArray()));
        command.Parameters.Add(Array("providers", NpgsqlDbType.Text, events.Select(e => e.Provider).ToArray()));
        command.Parameters.Add(Array("inputTokens", NpgsqlDbType.Bigint, events.Select(e => e.InputTokens).ToArray()));
        command.Parameters.Add(Array("outputTokens", NpgsqlDbType.Bigint, events.Select(e => e.OutputTokens).ToArray()));
        command.Parameters.Add(Array("costs", NpgsqlDbType.Numeric, events.Select(e => e.CostUsd).ToArray()));
        command.Parameters.Add(Array("rejections", NpgsqlDbType.Text, events.Select(e => e.RejectionCause).ToArray()));

        var inserted = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            inserted.Add(reader.GetString(0));
        }

        return inserted;
    }

    private static async Task AddToTotalsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        List<UsageEvent> fresh,
        DateTime now,
        CancellationToken cancellationToken)
    {
        if (fresh.Count == 0)
        {
            return;
        }

        // Sorted, so concurrent batches lock the same total rows in the same order.
        var totals = fresh
            .SelectMany(e => AllPeriods.Select(p => (Event: e, Period: p, Start: BudgetPeriod.StartOf(p, e.OccurredAt))))
            .GroupBy(x => (x.Event.KeyId, x.Period, x.Start))
            .OrderBy(g => g.Key.KeyId, StringComparer.Ordinal).ThenBy(g => g.Key.Period).ThenBy(g => g.Key.Start)
            .Select(g =>
            {
                var served = g.Where(x => x.Event.RejectionCause is null).ToList();
                var rejections = g.Where(x => x.Event.RejectionCause is not null)
                    .GroupBy(x => x.Event.RejectionCause!, StringComparer.Ordinal)
                    .ToDictionary(r => r.Key, r => (long)r.Count(), StringComparer.Ordinal);
                return new
                {
                    g.Key.KeyId,
                    Period = PeriodText(g.Key.Period),
                    Start = g.Key.Start.UtcDateTime,
                    Requests = (long)served.Count,
                    InputTokens = g.Sum(x => x.Event.InputTokens),
                    OutputTokens = g.Sum(x => x.Event.OutputTokens),
                    Cost = g.Sum(x => x.Event.CostUsd),
                    Rejections = JsonSerializer.Serialize(rejections, RegistryJsonContext.Default.DictionaryStringInt64),
                    LastRequestAt = g.Max(x => x.Event.OccurredAt).UtcDateTime,
                };
            })
            .ToList();

        await using var command = new NpgsqlCommand(
            """
            INSERT INTO vk.usage_totals (key_id, period, period_start, requests, input_tokens, output_tokens, cost_usd, rejections, last_request_at, updated_at)
            SELECT t.key_id, t.period, t.period_start, t.requests, t.input_tokens, t.output_tokens, t.cost_usd, t.rejections::jsonb, t.last_request_at, @now
            FROM unnest(@keyIds, @periods, @starts, @requests, @inputTokens, @outputTokens, @costs, @rejections, @lastRequestAt)
                AS t(key_id, period, period_start, requests, input_tokens, output_tokens, cost_usd, rejections, last_request_at)
            ON CONFLICT (key_id, period, period_start) DO UPDATE SET
                requests = usage_totals.requests + excluded.requests,
                input_tokens = usage_totals.input_tokens + excluded.input_tokens,
                output_tokens = usage_totals.output_tokens + excluded.output_tokens,
                cost_usd = usage_totals.cost_usd + excluded.cost_usd,
                rejections = vk.add_counts(usage_totals.rejections, excluded.rejections),
                last_request_at = greatest(usage_totals.last_request_at, excluded.last_request_at),
                updated_at = excluded.updated_at
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = now });
        command.Parameters.Add(Array("keyIds", NpgsqlDbType.Text, totals.Select(t => t.KeyId).ToArray()));
        command.Parameters.Add(Array("periods", NpgsqlDbType.Text, totals.Select(t => t.Period).ToArray()));
        command.Parameters.Add(Array("starts", NpgsqlDbType.TimestampTz, totals.Select(t => t.Start).ToArray()));
        command.Parameters.Add(Array("requests", NpgsqlDbType.Bigint, totals.Select(t => t.Requests).ToArray()));
        command.Parameters.Add(Array("inputTokens", NpgsqlDbType.Bigint, totals.Select(t => t.InputTokens).ToArray()));
        command.Parameters.Add(Array("outputTokens", NpgsqlDbType.Bigint, totals.Select(t => t.OutputTokens).ToArray()));
        command.Parameters.Add(Array("costs", NpgsqlDbType.Numeric, totals.Select(t => t.Cost).ToArray()));
        command.Parameters.Add(Array("rejections", NpgsqlDbType.Text, totals.Select(t => t.Rejections).ToArray()));
        command.Parameters.Add(Array("lastRequestAt", NpgsqlDbType.TimestampTz, totals.Select(t => t.LastRequestAt).ToArray()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlParameter Array<T>(string name, NpgsqlDbType elementType, T[] values) =>
        new(name, NpgsqlDbType.Array | elementType) { Value = values };

    private sealed class TotalsRow
    {
        public string KeyId { get; set; } = "";

        public long Requests { get; set; }

        public long InputTokens { get; set; }

        public long OutputTokens { get; set; }

        public decimal CostUsd { get; set; }

        public string Rejections { get; set; } = "{}";

        public DateTime? LastRequestAt { get; set; }
    }
}
