using System.Text.Json;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Quotas;

namespace VirtualKeys.Registry.Usage;

/// <summary>
/// Usage events and per-period totals. A batch is one statement: the events are inserted first and
/// only the ones that were new count, which is what makes a replayed batch a no-op; one statement is
/// atomic, so it needs no transaction of its own (one round trip). New events counted for a budget
/// are added up per key into <c>vk.usage_pending</c> (migration 0009); the others carry their
/// transaction's stamp (migration 0010). <see cref="FoldAsync"/> moves both into the totals, kept per
/// day and per month (migration 0006); <c>vk.usage_rows</c> reads all three, a week as the sum of its
/// days and the total as the sum of the key's months.
/// </summary>
internal sealed class UsageStore(RegistryDatabase database, TimeProvider timeProvider)
{
    // Period starts are computed in C# (BudgetPeriod.StartOf) and sent with each event, so the
    // pending rows use exactly the boundaries the sidecar and the operator use (the folds and reads of
    // stamped events compute the same UTC days and months in SQL). A batch writes no totals row:
    // upserting a day and a month row per key was most of PostgreSQL's cost per event when a batch
    // spreads over thousands of keys (migration 0009 has the figures). Events not counted for a budget
    // get their transaction's stamp and no pending row, which halves what they cost (migration 0010).
    //
    // The events go in with a plain INSERT first. ON CONFLICT DO NOTHING, which makes a replayed batch
    // a no-op, checks the primary key for every event before inserting it: about a fifth of what
    // PostgreSQL spends per event (pgbench, 500-event batches: 4.0 against 3.2 ms a batch). A batch
    // is replayed only when its outcome was lost (the connection broke around the commit), so the
    // statement that tolerates repeats is sent only after the plain one hit an event already there.
    private const string RecordCtes =
        """
        WITH batch AS (
            SELECT * FROM unnest(@requestIds, @keyIds, @occurredAt, @models, @providers, @inputTokens, @outputTokens, @costs, @rejections, @counts,
                                 @dailyStarts, @monthlyStarts, @forBudget)
                AS b(request_id, key_id, occurred_at, model, provider, input_tokens, output_tokens, cost_usd, rejection, request_count,
                     daily_start, monthly_start, for_budget)
        ),
        fresh AS (
            INSERT INTO vk.usage_events (request_id, key_id, occurred_at, model, provider, input_tokens, output_tokens, cost_usd, rejection, request_count, recorded_at, fold_xid)
            SELECT request_id, key_id, occurred_at, model, provider, input_tokens, output_tokens, cost_usd, rejection, request_count, @now,
                   CASE WHEN for_budget THEN NULL ELSE (SELECT vk.usage_fold_stamp()) END
            FROM batch
            /* repeats */
            RETURNING request_id, fold_xid
        ),
        pending AS (
            INSERT INTO vk.usage_pending (key_id, daily_start, monthly_start, rejection, requests, input_tokens, output_tokens, cost_usd, last_request_at, recorded_at)
            SELECT b.key_id, b.daily_start, b.monthly_start, b.rejection,
                   sum(b.request_count)::bigint, sum(b.input_tokens)::bigint, sum(b.output_tokens)::bigint, sum(b.cost_usd), max(b.occurred_at), @now
            FROM fresh JOIN batch b USING (request_id)
            WHERE fresh.fold_xid IS NULL
            GROUP BY b.key_id, b.daily_start, b.monthly_start, b.rejection
        )
        """;

    // Both forms also read the registry's change version, so a sidecar that flushes usage needs no
    // statement of its own to check that it missed no change notification.
    private const string RecordTail = "\nSELECT count(*)::integer, (SELECT change_version FROM vk.registry_state) FROM fresh";

    // The same statement carrying a replica's presence (migration 0005's vk.quota_touch): a replica
    // that flushes usage regularly is known alive to the quota counters without heartbeats.
    private const string RecordWithPresenceTail =
        "\nSELECT (SELECT count(*)::integer FROM fresh), (SELECT change_version FROM vk.registry_state), t.present, t.live"
        + " FROM vk.quota_touch(@replica, @presenceAt, @liveAfter) AS t";

    private const string PrimaryKey = "usage_events_pkey";

    private const string RecordSql = RecordCtes + RecordTail;

    private const string RecordWithPresenceSql = RecordCtes + RecordWithPresenceTail;

    // Set once the server refused a prepared statement (a PgBouncer in transaction mode hands each
    // transaction another server connection): the batches go over the main pool, unprepared, from then on.
    private volatile bool _withoutPreparing;

    /// <summary>False once the server refused a prepared statement: batches go over the main pool from then on.</summary>
    public bool PreparesBatches => !_withoutPreparing;

    public async Task<UsageBatchResult> RecordAsync(IReadOnlyCollection<UsageEvent> events, ReplicaPresence? presence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var usage in events)
        {
            ValidateUsage(usage);
        }

        if (events.Count == 0)
        {
            return new UsageBatchResult(0, 0);
        }

        // An id repeated within the batch counts once, as its first occurrence: the statement joins
        // the inserted ids back to the batch, which needs each id once.
        var seen = new HashSet<string>(events.Count, StringComparer.Ordinal);
        var distinct = events.Where(e => seen.Add(e.RequestId)).ToArray();
        var now = timeProvider.GetUtcNow().UtcDateTime;
        async Task<UsageBatchResult> RecordOnAsync(NpgsqlConnection connection, CancellationToken ct)
        {
            try
            {
                return await RecordWithAsync(connection, repeatsPossible: false, distinct, events.Count, presence, now, ct);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.TableName == "usage_events" && ex.ConstraintName == PrimaryKey)
            {
                // Some of these events are already recorded: this batch, or part of it, is a replay.
                // The failed statement wrote nothing; the tolerant one adds what is new.
                return await RecordWithAsync(connection, repeatsPossible: true, distinct, events.Count, presence, now, ct);
            }
        }

        if (!_withoutPreparing)
        {
            try
            {
                return await database.RunPreparedAsync(RecordOnAsync, cancellationToken);
            }
            catch (PostgresException ex) when (RegistryDatabase.IsPreparedStatementRefusal(ex))
            {
                // The statement failed as a whole and wrote nothing: send it again, unprepared.
                _withoutPreparing = true;
            }
        }

        return await database.RunAsync(RecordOnAsync, cancellationToken);
    }

    private static async Task<UsageBatchResult> RecordWithAsync(
        NpgsqlConnection connection,
        bool repeatsPossible,
        UsageEvent[] distinct,
        int sent,
        ReplicaPresence? presence,
        DateTime now,
        CancellationToken cancellationToken)
    {
        var sql = presence is null ? RecordSql : RecordWithPresenceSql;
        if (repeatsPossible)
        {
            sql = sql.Replace("/* repeats */", "ON CONFLICT (request_id) DO NOTHING", StringComparison.Ordinal);
        }

        await using var command = new NpgsqlCommand(sql, connection);
        AddParameters(command, distinct, now);
        if (presence is { } carried)
        {
            command.Parameters.Add(new NpgsqlParameter<string>("replica", NpgsqlDbType.Text) { TypedValue = carried.ReplicaId });
            command.Parameters.Add(new NpgsqlParameter<DateTime>("presenceAt", NpgsqlDbType.TimestampTz) { TypedValue = carried.Now.UtcDateTime });
            command.Parameters.Add(new NpgsqlParameter<DateTime>("liveAfter", NpgsqlDbType.TimestampTz) { TypedValue = (carried.Now - carried.ReplicaTtl).UtcDateTime });
        }

        // On the registry's prepared pool (RunPreparedAsync), from its second batch on a connection,
        // PostgreSQL runs the statement without parsing and planning it again.
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var recorded = reader.GetInt32(0);
        var result = new UsageBatchResult(recorded, sent - recorded) { ChangeVersion = reader.GetInt64(1) };
        return presence is null ? result : result with { Present = reader.GetBoolean(2), LiveReplicas = reader.GetInt32(3) };
    }

    /// <summary>
    /// Moves the usage written since the last fold into the totals (<c>vk.usage_fold</c>): the pending
    /// rows and the stamped events, one upsert per key and period for all of them. Reads are exact with
    /// or without it; folding keeps what reads add up beside the totals small. Returns the totals rows written, 0 when another fold was running.
    /// </summary>
    public Task<int> FoldAsync(CancellationToken cancellationToken) =>
        database.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand("SELECT vk.usage_fold()", connection);
                return (int)(await command.ExecuteScalarAsync(ct))!;
            },
            cancellationToken);

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
                    FROM vk.usage_rows(@keyIds, @period, @start)
                    """,
                    new { keyIds = keyIds.ToArray(), period = PeriodText(period), start = start.UtcDateTime },
                    cancellationToken: ct));
                var byKey = rows.ToLookup(r => r.KeyId, StringComparer.Ordinal);
                var result = new Dictionary<string, UsageTotals>(StringComparer.Ordinal);
                foreach (var keyId in keyIds)
                {
                    result[keyId] = Sum(keyId, period, start, byKey[keyId]);
                }

                return result;
            },
            cancellationToken);
    }

    /// <summary>The period's stored rows (<c>vk.usage_rows</c>: a day or a month is one row, a week its days, the total every month) added up.</summary>
    private static UsageTotals Sum(string keyId, BudgetPeriodKind period, DateTimeOffset start, IEnumerable<TotalsRow> rows)
    {
        long requests = 0, inputTokens = 0, outputTokens = 0;
        var cost = 0m;
        DateTime? last = null;
        var rejections = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            requests += row.Requests;
            inputTokens += row.InputTokens;
            outputTokens += row.OutputTokens;
            cost += row.CostUsd;
            if (row.LastRequestAt is { } at && (last is null || at > last))
            {
                last = at;
            }

            foreach (var (cause, count) in JsonSerializer.Deserialize(row.Rejections, RegistryJsonContext.Default.DictionaryStringInt64) ?? [])
            {
                rejections[cause] = rejections.GetValueOrDefault(cause) + count;
            }
        }

        return new UsageTotals(
            keyId,
            period,
            start,
            requests,
            inputTokens,
            outputTokens,
            cost,
            rejections,
            last is { } latest ? new DateTimeOffset(DateTime.SpecifyKind(latest, DateTimeKind.Utc)) : null);
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

        if (usage.Count < 1 || (usage.Count > 1 && usage.RejectionCause is null))
        {
            throw new ArgumentException(
                $"Usage event {usage.RequestId}: Count must be 1 for a served request and at least 1 for refused ones.", nameof(usage));
        }
    }

    private static string PeriodText(BudgetPeriodKind period) => period.ToString().ToLowerInvariant();

    private static void AddParameters(NpgsqlCommand command, UsageEvent[] events, DateTime now)
    {
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
        command.Parameters.Add(Array("counts", NpgsqlDbType.Integer, events.Select(e => e.Count).ToArray()));
        command.Parameters.Add(Array("dailyStarts", NpgsqlDbType.TimestampTz, Starts(events, BudgetPeriodKind.Daily)));
        command.Parameters.Add(Array("monthlyStarts", NpgsqlDbType.TimestampTz, Starts(events, BudgetPeriodKind.Monthly)));
        command.Parameters.Add(Array("forBudget", NpgsqlDbType.Boolean, events.Select(e => e.CountsForBudget).ToArray()));
    }

    private static DateTime[] Starts(UsageEvent[] events, BudgetPeriodKind period) =>
        events.Select(e => BudgetPeriod.StartOf(period, e.OccurredAt).UtcDateTime).ToArray();

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
