-- Since migration 0009 a batch adds one vk.usage_pending row per key beside its events. With traffic
-- spread over many keys that is a second row, with an index entry, for every event: on PostgreSQL 15,
-- 500-event batches over 10,000 keys cost about 14 us per event with the pending rows and 10 without
-- (pgbench), and folding the events as below about 2 more.
--
-- The events of keys without a budget now carry a stamp instead: the id of the transaction that
-- wrote them (fold_xid). vk.usage_fold() adds them up straight from vk.usage_events: every stamped
-- event whose transaction ended before the fold began and that no earlier fold took. An event's
-- transaction is still open while its id is at or above the oldest open transaction id
-- (pg_snapshot_xmin), so a fold takes the stamps below that and remembers where it stopped
-- (vk.usage_fold_state); the next fold starts there. Readers add the stamped events from there on
-- to the totals, in the same snapshot, so every figure stays exact.
--
-- The events of keys with a budget keep their pending rows (fold_xid NULL): the shared budget pool
-- reads a key's recorded spend at every grant (vk.recorded_spend), which needs the key's spend not
-- yet folded by an index, and the events table has no index by key.
ALTER TABLE vk.usage_events ADD COLUMN fold_xid bigint;
-- Folds and reads find the unfolded events by stamp. Stamps rise as events are appended and a batch
-- shares one, so new entries land at the right edge of a deduplicated B-tree: about 8 bytes and no
-- measurable time per event. (A BRIN index costs as little to write, but every read then scans the
-- block ranges not yet summarized, and the planner chose a full table scan until the column had
-- statistics.)
CREATE INDEX usage_events_fold_xid ON vk.usage_events (fold_xid) WHERE fold_xid IS NOT NULL;

-- One row: the stamps below events_folded_below are in vk.usage_totals.
CREATE TABLE vk.usage_fold_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    events_folded_below bigint NOT NULL
);
INSERT INTO vk.usage_fold_state (events_folded_below) VALUES (0);

-- The stamp a batch gives its events: its transaction's id, or NULL when that id is below where the
-- folds stopped. That happens only when transaction ids went back, i.e. when the registry was
-- restored into another PostgreSQL cluster; such events take the pending rows instead (exact, at the
-- former cost) until the cluster's ids pass the old ones. pg_current_xact_id is 64 bits (epoch and
-- id) and never wraps.
CREATE FUNCTION vk.usage_fold_stamp() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN x >= s.events_folded_below THEN x END
    FROM vk.usage_fold_state s
    CROSS JOIN LATERAL (SELECT pg_current_xact_id()::text::bigint) AS t(x);
$$;

-- The rows of a key's usage found by key: the totals and the pending rows (0009's vk.usage_rows).
CREATE FUNCTION vk.usage_rows_by_key(p_keys text[], p_period text, p_start timestamptz)
RETURNS SETOF vk.usage_totals LANGUAGE sql STABLE AS $$
    SELECT t.* FROM vk.usage_totals t
    WHERE t.key_id = ANY(p_keys) AND vk.usage_row_in_period(t.period, t.period_start, p_period, p_start)
    UNION ALL
    SELECT p.key_id, s.period, s.period_start,
           CASE WHEN p.rejection IS NULL THEN p.requests ELSE 0 END,
           p.input_tokens, p.output_tokens, p.cost_usd,
           CASE WHEN p.rejection IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(p.rejection, p.requests) END,
           p.last_request_at, p.recorded_at
    FROM vk.usage_pending p
    CROSS JOIN LATERAL (VALUES ('daily', p.daily_start), ('monthly', p.monthly_start)) AS s(period, period_start)
    WHERE p.key_id = ANY(p_keys) AND vk.usage_row_in_period(s.period, s.period_start, p_period, p_start);
$$;

-- Every row of the keys' usage: as above, plus the stamped events no fold took yet, added up per key,
-- day or month and cause. Those are found by stamp, not by key: a read goes through what was written
-- since the last fold, which the sidecars keep to seconds while usage is heavy.
CREATE OR REPLACE FUNCTION vk.usage_rows(p_keys text[], p_period text, p_start timestamptz)
RETURNS SETOF vk.usage_totals LANGUAGE sql STABLE AS $$
    SELECT * FROM vk.usage_rows_by_key(p_keys, p_period, p_start)
    UNION ALL
    SELECT e.key_id, s.period, s.period_start,
           coalesce(sum(e.request_count) FILTER (WHERE e.rejection IS NULL), 0)::bigint,
           sum(e.input_tokens)::bigint, sum(e.output_tokens)::bigint, sum(e.cost_usd),
           CASE WHEN e.rejection IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(e.rejection, sum(e.request_count)) END,
           max(e.occurred_at), max(e.recorded_at)
    FROM vk.usage_events e
    CROSS JOIN LATERAL (VALUES ('daily', date_trunc('day', e.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
                               ('monthly', date_trunc('month', e.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')) AS s(period, period_start)
    WHERE e.fold_xid >= (SELECT events_folded_below FROM vk.usage_fold_state)
      AND e.key_id = ANY(p_keys)
      AND vk.usage_row_in_period(s.period, s.period_start, p_period, p_start)
    GROUP BY e.key_id, s.period, s.period_start, e.rejection;
$$;

-- The shared budget pool's reading of a key's spend, at every grant: by key only. Keys with a budget
-- write pending rows, so only spend from before a key had a budget can be missing here, until the
-- next fold (the sidecars that take up the new budget read it in full through vk.usage_rows).
CREATE OR REPLACE FUNCTION vk.recorded_spend(p_key text, p_period text, p_start timestamptz)
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(cost_usd), 0) FROM vk.usage_rows_by_key(ARRAY[p_key], p_period, p_start);
$$;

-- As in 0009, plus the stamped events. One transaction moves both into the totals and the point
-- where the folds stopped, so a reader sees an event either in the totals or after that point. A
-- fold never plans with JIT: compiling its statement cost more than running it (0.5 s measured).
CREATE OR REPLACE FUNCTION vk.usage_fold() RETURNS integer LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    v_from bigint;
    v_upto bigint;
    v_written integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7349001) THEN
        RETURN 0;
    END IF;

    SELECT events_folded_below INTO v_from FROM vk.usage_fold_state FOR UPDATE;
    -- Every transaction with an id below this one has ended: its events are all there to be read.
    v_upto := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    IF v_upto < v_from THEN
        -- Transaction ids went back (see vk.usage_fold_stamp): nothing new is stamped below v_from.
        v_upto := v_from;
    END IF;

    WITH moved AS (
        DELETE FROM vk.usage_pending RETURNING *
    ),
    -- Added up per key first: the day and month rows are then made from a row per key.
    per_key AS (
        SELECT key_id, daily_start, monthly_start, rejection,
               sum(requests) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(cost_usd) AS cost_usd, max(last_request_at) AS last_request_at
        FROM moved
        GROUP BY key_id, daily_start, monthly_start, rejection
        UNION ALL
        SELECT key_id, date_trunc('day', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               date_trunc('month', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', rejection,
               sum(request_count), sum(input_tokens), sum(output_tokens), sum(cost_usd), max(occurred_at)
        FROM vk.usage_events
        WHERE fold_xid >= v_from AND fold_xid < v_upto
        GROUP BY 1, 2, 3, 4
    ),
    by_cause AS (
        SELECT m.key_id, s.period, s.period_start, m.rejection,
               sum(m.requests)::bigint AS requests, sum(m.input_tokens)::bigint AS input_tokens,
               sum(m.output_tokens)::bigint AS output_tokens, sum(m.cost_usd) AS cost_usd, max(m.last_request_at) AS last_request_at
        FROM per_key m
        CROSS JOIN LATERAL (VALUES ('daily', m.daily_start), ('monthly', m.monthly_start)) AS s(period, period_start)
        GROUP BY m.key_id, s.period, s.period_start, m.rejection
    ),
    written AS (
        INSERT INTO vk.usage_totals (key_id, period, period_start, requests, input_tokens, output_tokens, cost_usd, rejections, last_request_at, updated_at)
        SELECT key_id, period, period_start,
               coalesce(sum(requests) FILTER (WHERE rejection IS NULL), 0)::bigint,
               sum(input_tokens)::bigint, sum(output_tokens)::bigint, sum(cost_usd),
               coalesce(jsonb_object_agg(rejection, requests) FILTER (WHERE rejection IS NOT NULL), '{}'::jsonb),
               max(last_request_at), now()
        FROM by_cause
        GROUP BY key_id, period, period_start
        ORDER BY key_id, period, period_start
        ON CONFLICT (key_id, period, period_start) DO UPDATE SET
            requests = usage_totals.requests + excluded.requests,
            input_tokens = usage_totals.input_tokens + excluded.input_tokens,
            output_tokens = usage_totals.output_tokens + excluded.output_tokens,
            cost_usd = usage_totals.cost_usd + excluded.cost_usd,
            rejections = CASE WHEN excluded.rejections = '{}'::jsonb THEN usage_totals.rejections
                              ELSE vk.add_counts(usage_totals.rejections, excluded.rejections) END,
            last_request_at = greatest(usage_totals.last_request_at, excluded.last_request_at),
            updated_at = excluded.updated_at
        RETURNING 1
    )
    SELECT count(*)::integer INTO v_written FROM written;

    UPDATE vk.usage_fold_state SET events_folded_below = v_upto;
    RETURN v_written;
END;
$$;
