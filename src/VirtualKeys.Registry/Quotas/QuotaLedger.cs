using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Quotas;

/// <summary>
/// The shared counters behind cross-replica quotas (migration 0002): sidecar replicas lease blocks
/// of requests, tokens, dollars and parallel slots from here and admit locally from their leases.
/// </summary>
/// <remarks>
/// Every method is one round trip: a grant or a return sends all its dimensions as one batch, in a
/// fixed order (budget, requests, tokens, slots), so two grants of one key never wait on each other
/// in opposite orders (a deadlock with an older sidecar's batch is retried). The PostgreSQL
/// functions take each counter's row lock, which is what keeps the sum of grants within the cap
/// under any concurrency.
/// </remarks>
public sealed class QuotaLedger
{
    /// <summary>
    /// The NOTIFY channel a return of requests, tokens or dollars is announced on (payload: the key id,
    /// a space, the returning replica's id), so replicas that found the counter used up ask again.
    /// </summary>
    public const string ReturnsChannel = "vk_quota_returns";

    /// <summary>Windows older than this are deleted by heartbeats.</summary>
    public static readonly TimeSpan WindowRetention = TimeSpan.FromMinutes(10);

    /// <summary>Attempts of one grant or return when PostgreSQL breaks deadlocks (see <see cref="RetriedAfterDeadlockAsync"/>).</summary>
    private const int MaxDeadlockTries = 3;

    /// <summary>The pause before an attempt sent again after a deadlock, drawn from this range (ms, both ends included).</summary>
    private const int DeadlockPauseMinMs = 50;

    private const int DeadlockPauseMaxMs = 150;

    private readonly RegistryDatabase _database;
    private readonly TimeProvider _pauseClock;
    private long _roundTrips;
    private long _heartbeats;

    /// <param name="pauseClock">Times the pause before an attempt sent again after a deadlock; the system clock when null (tests pass a fake one).</param>
    public QuotaLedger(RegistryDatabase database, TimeProvider? pauseClock = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _pauseClock = pauseClock ?? TimeProvider.System;
    }

    /// <summary>Round trips this ledger made (successful or not), for the sidecar's metrics.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Heartbeats among <see cref="RoundTrips"/>.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    /// <summary>Reads a <see cref="ReturnsChannel"/> payload.</summary>
    public static bool TryParseReturnPayload(string? payload, out string keyId, out string replicaId)
    {
        var separator = payload?.IndexOf(' ', StringComparison.Ordinal) ?? -1;
        if (separator <= 0)
        {
            keyId = replicaId = string.Empty;
            return false;
        }

        keyId = payload![..separator];
        replicaId = payload[(separator + 1)..];
        return true;
    }

    /// <summary>The minute window (UTC) holding <paramref name="at"/>.</summary>
    public static DateTimeOffset WindowOf(DateTimeOffset at) =>
        new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);

    /// <summary>
    /// Grants what the request asks, in one round trip. The grant also refreshes the replica's
    /// presence if it has not lapsed (migration 0005), so a replica that refills regularly is known
    /// alive without heartbeats of its own.
    /// </summary>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public Task<QuotaGrant> GrantAsync(QuotaGrantRequest request, TimeSpan replicaTtl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.KeyId);
        ArgumentException.ThrowIfNullOrEmpty(request.ReplicaId);
        var window = WindowOf(request.Now);
        DateTimeOffset? periodStart = request.Budget is { } budgetAsk ? BudgetPeriod.StartOf(budgetAsk.Period, request.Now) : null;
        if (request.Requests is null && request.Tokens is null && request.Budget is null && request.Slots is null)
        {
            return Task.FromResult(new QuotaGrant(window, 0, 0, periodStart, 0m, null, 0));
        }

        return RetriedAfterDeadlockAsync(() => _database.RunAsync(
            async (connection, ct) =>
            {
                // Built for each attempt: a parameter belongs to one command.
                var statements = new List<GrantStatement>(4);
                // The budget first, as in every batch that takes a key's quota rows (ReturnAsync too),
                // so two batches never wait for each other's rows in opposite orders. Its spend read
                // can be long (a key that just gained its budget reads all of its usage, migration
                // 0011), and going first it holds none of the key's window rows while it reads.
                // The lease is recorded for this replica (migration 0012), so that what it has not
                // spent goes back to the pool if it lapses; a grant the pool cannot fill takes back
                // the leases of replicas that lapsed.
                if (request.Budget is { } budget)
                {
                    statements.Add(new GrantStatement(
                        "g.given, g.remaining, g.kept",
                        3,
                        "vk.quota_grant_budget_lease($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS g",
                        [
                            Text(request.KeyId),
                            Text(PeriodText(budget.Period)),
                            Time(periodStart!.Value),
                            Numeric(Math.Max(0m, budget.Cap)),
                            Numeric(Math.Max(0m, budget.Want)),
                            Numeric(Math.Max(0m, budget.Charge)),
                            Text(request.ReplicaId),
                            Time(request.Now),
                            Time(request.Now - replicaTtl),
                            NullableNumeric(budget.Held is { } held ? Math.Max(0m, held) : null),
                        ]));
                }

                if (request.Requests is { } requests)
                {
                    statements.Add(GrantWindow(request.KeyId, "requests", window, requests));
                }

                if (request.Tokens is { } tokens)
                {
                    statements.Add(GrantWindow(request.KeyId, "tokens", window, tokens));
                }

                if (request.Slots is { } slots)
                {
                    statements.Add(new GrantStatement(
                        "g.slots",
                        1,
                        "vk.quota_grant_slots($1, $2, $3, $4, $5, $6) AS g(slots)",
                        [
                            Text(request.KeyId),
                            Text(request.ReplicaId),
                            Time(request.Now),
                            Time(request.Now - replicaTtl),
                            new NpgsqlParameter<int> { TypedValue = Math.Max(0, slots.Cap) },
                            new NpgsqlParameter<int> { TypedValue = Math.Max(0, slots.Want) },
                        ]));
                }

                await using var batch = new NpgsqlBatch(connection);
                for (var i = 0; i < statements.Count; i++)
                {
                    batch.BatchCommands.Add(i == 0 ? statements[i].WithPresence(request.ReplicaId, request.Now, replicaTtl) : statements[i].ToCommand());
                }

                await using var reader = await batch.ExecuteReaderAsync(ct);
                await reader.ReadAsync(ct);
                var presenceColumn = statements[0].ColumnCount;
                var present = reader.GetBoolean(presenceColumn);
                var liveReplicas = reader.GetInt32(presenceColumn + 1);
                var first = true;
                async Task NextAsync()
                {
                    if (!first)
                    {
                        await reader.NextResultAsync(ct);
                        await reader.ReadAsync(ct);
                    }

                    first = false;
                }

                long grantedRequests = 0, grantedTokens = 0;
                long? requestsLeft = null, tokensLeft = null;
                decimal grantedUsd = 0m;
                decimal? remainingUsd = null, keptUsd = null;
                var grantedSlots = 0;
                if (request.Budget is not null)
                {
                    await NextAsync();
                    grantedUsd = reader.GetDecimal(0);
                    remainingUsd = reader.GetDecimal(1);
                    keptUsd = reader.GetDecimal(2);
                }

                if (request.Requests is not null)
                {
                    await NextAsync();
                    grantedRequests = reader.GetInt64(0);
                    requestsLeft = reader.GetInt64(1);
                }

                if (request.Tokens is not null)
                {
                    await NextAsync();
                    grantedTokens = reader.GetInt64(0);
                    tokensLeft = reader.GetInt64(1);
                }

                if (request.Slots is not null)
                {
                    await NextAsync();
                    grantedSlots = reader.GetInt32(0);
                }

                return new QuotaGrant(window, grantedRequests, grantedTokens, periodStart, grantedUsd, remainingUsd, grantedSlots)
                {
                    RequestsLeft = requestsLeft,
                    TokensLeft = tokensLeft,
                    BudgetKeptUsd = keptUsd,
                    Present = present,
                    LiveReplicas = liveReplicas,
                };
            },
            cancellationToken),
            cancellationToken);
    }

    /// <summary>
    /// Gives back what the replica did not use, in one round trip; the returns of requests, tokens and
    /// dollars are announced on <see cref="ReturnsChannel"/> when they commit.
    /// </summary>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached: nothing was sent.</exception>
    /// <exception cref="QuotaOutcomeUnknownException">The return was sent and its answer lost: it may have been applied or not.</exception>
    public Task ReturnAsync(QuotaReturn leftover, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(leftover);
        if (leftover.IsEmpty)
        {
            return Task.CompletedTask;
        }

        var window = WindowOf(leftover.WindowStart);
        return RetriedAfterDeadlockAsync(() => _database.RunAsync(
            async (connection, ct) =>
            {
                await using var batch = new NpgsqlBatch(connection);
                if (leftover.BudgetPeriodStart is { } start && leftover.BudgetUsd > 0)
                {
                    // Never more than the ledger counts as leased to this replica (migration 0012).
                    var command = new NpgsqlBatchCommand("SELECT vk.quota_return_budget_lease($1, $2, $3, $4, $5, $6)");
                    command.Parameters.Add(Text(leftover.KeyId));
                    command.Parameters.Add(Text(PeriodText(leftover.BudgetPeriod)));
                    command.Parameters.Add(Time(start));
                    command.Parameters.Add(Text(leftover.ReplicaId));
                    command.Parameters.Add(Numeric(leftover.BudgetUsd));
                    command.Parameters.Add(NullableNumeric(leftover.BudgetHeld is { } held ? Math.Max(0m, held) : null));
                    batch.BatchCommands.Add(command);
                }

                if (leftover.Requests > 0)
                {
                    batch.BatchCommands.Add(ReturnWindow(leftover.KeyId, "requests", window, leftover.Requests));
                }

                if (leftover.Tokens > 0)
                {
                    batch.BatchCommands.Add(ReturnWindow(leftover.KeyId, "tokens", window, leftover.Tokens));
                }

                if (leftover.SlotsKept is { } kept)
                {
                    // What the replica holds, not what it frees: an UPDATE of its own row, which every
                    // schema since migration 0002 runs (the sidecar's role writes vk.quota_slots already).
                    var command = new NpgsqlBatchCommand("UPDATE vk.quota_slots SET slots = $3 WHERE key_id = $1 AND replica_id = $2 AND slots > $3");
                    command.Parameters.Add(Text(leftover.KeyId));
                    command.Parameters.Add(Text(leftover.ReplicaId));
                    command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Math.Max(0, kept) });
                    batch.BatchCommands.Add(command);
                }
                else if (leftover.Slots > 0)
                {
                    var command = new NpgsqlBatchCommand("SELECT vk.quota_return_slots($1, $2, $3)");
                    command.Parameters.Add(Text(leftover.KeyId));
                    command.Parameters.Add(Text(leftover.ReplicaId));
                    command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = leftover.Slots });
                    batch.BatchCommands.Add(command);
                }

                // Slots need no announcement: a replica refused for slots asks again within a second anyway.
                if (leftover.Requests > 0 || leftover.Tokens > 0 || (leftover.BudgetPeriodStart is not null && leftover.BudgetUsd > 0))
                {
                    // In the first return's own statement (a request, token or budget return comes
                    // before slots), delivered when the batch commits.
                    var first = batch.BatchCommands[0];
                    var next = first.Parameters.Count + 1;
                    first.CommandText += string.Create(CultureInfo.InvariantCulture, $", pg_notify(${next}, ${next + 1})");
                    first.Parameters.Add(Text(ReturnsChannel));
                    first.Parameters.Add(Text(leftover.KeyId + " " + leftover.ReplicaId));
                }

                // Cut short before it goes out, the return is not sent.
                ct.ThrowIfCancellationRequested();
                try
                {
                    await batch.ExecuteNonQueryAsync(ct);
                }
                catch (Exception ex) when (!Refused(ex, connection))
                {
                    var cause = RegistryDatabase.IsUnavailable(ex, ct) ? _database.Unavailable(ex) : ex;
                    throw new QuotaOutcomeUnknownException(
                        $"The answer to a quota return was lost; PostgreSQL may have applied it or not ({cause.Message}).",
                        cause);
                }

                return true;
            },
            cancellationToken),
            cancellationToken);
    }

    /// <summary>
    /// Whether PostgreSQL answered a batch with an error and the session goes on: the error ended the
    /// batch's implicit transaction, so nothing of it stayed. So for a cancellation PostgreSQL confirmed
    /// (57014, which Npgsql throws as the cause of an <see cref="OperationCanceledException"/>) and a
    /// deadlock. Any other failure after the batch went out leaves its outcome unknown: the connection
    /// broke (the commit may have happened and its answer been lost), the cancellation was not answered
    /// (Npgsql then breaks the connection), or an error came with the session's end, which a batch that
    /// committed can also meet.
    /// </summary>
    private static bool Refused(Exception exception, NpgsqlConnection connection) =>
        (exception is PostgresException || exception is OperationCanceledException { InnerException: PostgresException })
        && (connection.FullState & System.Data.ConnectionState.Broken) == 0;

    /// <summary>
    /// Sends a grant or a return again when PostgreSQL broke a deadlock by rolling it back: each is
    /// one implicit transaction, so nothing of it stayed. Batches of this release take a key's rows in
    /// one order, but sidecars of the release before migration 0011 took the budget row last, and
    /// during a rolling upgrade both run. Every attempt counts as a round trip.
    /// </summary>
    /// <remarks>
    /// The attempt waits a little first. The transaction that won the deadlock was waiting for a row
    /// this one held; woken by the rollback, it still has to come back for that row, and an attempt
    /// sent at once can take the row first and deadlock with it again (seen in a test: three
    /// attempts). PostgreSQL took at least its deadlock_timeout (1 s by default) to find the
    /// deadlock, so the pause costs little beside it.
    /// </remarks>
    private async Task<T> RetriedAfterDeadlockAsync<T>(Func<Task<T>> attempt, CancellationToken cancellationToken)
    {
        for (var tries = 1; ; tries++)
        {
            Interlocked.Increment(ref _roundTrips);
            try
            {
                return await attempt();
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && tries < MaxDeadlockTries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(DeadlockPauseMinMs, DeadlockPauseMaxMs + 1)), _pauseClock, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Marks the replica alive, forgets replicas whose heartbeat lapsed (freeing their slots, and giving
    /// the unused part of their dollar leases back to the pools, migration 0012) and old windows, and
    /// counts the live replicas.
    /// </summary>
    /// <param name="replicaTtl">A replica not seen for this long is dead.</param>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public Task<QuotaHeartbeat> HeartbeatAsync(string replicaId, DateTimeOffset now, TimeSpan replicaTtl, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(replicaId);
        Interlocked.Increment(ref _roundTrips);
        Interlocked.Increment(ref _heartbeats);
        return _database.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand("SELECT rejoined, live FROM vk.quota_heartbeat($1, $2, $3, $4)", connection);
                command.Parameters.Add(Text(replicaId));
                command.Parameters.Add(Time(now));
                command.Parameters.Add(Time(now - replicaTtl));
                command.Parameters.Add(Time(WindowOf(now) - WindowRetention));
                await using var reader = await command.ExecuteReaderAsync(ct);
                await reader.ReadAsync(ct);
                return new QuotaHeartbeat(reader.GetBoolean(0), reader.GetInt32(1));
            },
            cancellationToken);
    }

    /// <summary>Starts listening for other replicas' returns (<see cref="ReturnsChannel"/>) on a connection of its own.</summary>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public Task<QuotaReturnListener> ListenForReturnsAsync(string replicaId, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _roundTrips);
        return QuotaReturnListener.StartAsync(_database, replicaId, cancellationToken);
    }

    /// <summary>A replica shutting down: its slots are freed at once.</summary>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public Task LeaveAsync(string replicaId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(replicaId);
        Interlocked.Increment(ref _roundTrips);
        return _database.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand("SELECT vk.quota_leave($1)", connection);
                command.Parameters.Add(Text(replicaId));
                await command.ExecuteNonQueryAsync(ct);
                return true;
            },
            cancellationToken);
    }

    private static GrantStatement GrantWindow(string keyId, string dimension, DateTimeOffset window, QuotaWindowAsk ask) =>
        new(
            "g.given, g.remaining",
            2,
            "vk.quota_grant_window_left($1, $2, $3, $4, $5, $6) AS g",
            [
                Text(keyId),
                Text(dimension),
                Time(window),
                Int64(Math.Max(0, ask.Cap)),
                Int64(Math.Max(0, ask.Want)),
                Int64(Math.Max(0, ask.Charge)),
            ]);

    private static NpgsqlBatchCommand ReturnWindow(string keyId, string dimension, DateTimeOffset window, long amount)
    {
        var command = new NpgsqlBatchCommand("SELECT vk.quota_return_window($1, $2, $3, $4)");
        command.Parameters.Add(Text(keyId));
        command.Parameters.Add(Text(dimension));
        command.Parameters.Add(Time(window));
        command.Parameters.Add(Int64(amount));
        return command;
    }

    private static string PeriodText(BudgetPeriodKind period) => period.ToString().ToLowerInvariant();

    private static NpgsqlParameter<string> Text(string value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlParameter<long> Int64(long value) => new() { TypedValue = value };

    private static NpgsqlParameter<decimal> Numeric(decimal value) => new() { TypedValue = value };

    private static NpgsqlParameter NullableNumeric(decimal? value) =>
        new() { Value = value is { } number ? number : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric };

    private static NpgsqlParameter<DateTime> Time(DateTimeOffset value) =>
        new() { TypedValue = value.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    /// <summary>One grant statement: <c>SELECT Columns FROM Source</c> with its parameters.</summary>
    private sealed record GrantStatement(string Columns, int ColumnCount, string Source, NpgsqlParameter[] Parameters)
    {
        public NpgsqlBatchCommand ToCommand() => Command($"SELECT {Columns} FROM {Source}");

        /// <summary>
        /// The statement with <c>vk.quota_touch</c> joined to it: it refreshes the replica's presence
        /// unless that lapsed, and counts the live replicas. Its two columns follow the grant's.
        /// </summary>
        public NpgsqlBatchCommand WithPresence(string replicaId, DateTimeOffset now, TimeSpan replicaTtl)
        {
            var next = Parameters.Length + 1;
            var command = Command(string.Create(
                CultureInfo.InvariantCulture,
                $"SELECT {Columns}, t.present, t.live FROM {Source} CROSS JOIN vk.quota_touch(${next}, ${next + 1}, ${next + 2}) AS t"));
            command.Parameters.Add(Text(replicaId));
            command.Parameters.Add(Time(now));
            command.Parameters.Add(Time(now - replicaTtl));
            return command;
        }

        private NpgsqlBatchCommand Command(string text)
        {
            var command = new NpgsqlBatchCommand(text);
            command.Parameters.AddRange(Parameters);
            return command;
        }
    }
}
