-- Two corrections to migration 0010.
--
-- 1. A key given a budget while it was already spending could overshoot it. Its spend until then
--    was written as stamped events (0010), and the shared budget pool reads a key's spend by key
--    only (vk.recorded_spend: totals and pending rows), so until the next fold the pool granted up
--    to the cap on top of that spend: up to ten minutes on a quiet registry, longer while a long
--    transaction held the folds back. A key now remembers that it gained its budget
--    (vk.virtual_keys.budget_since, kept by a trigger). Its first grant after that notes its own
--    transaction id (vk.budget_full_reads): the grant began after the budget was committed, so
--    every usage batch that took its id before that commit, and so may have counted the key as
--    having no budget, has a lower id. (Replicas that learn of the budget late write such
--    batches after the commit too: see vk.quota_grant_budget.) Until the folds pass the noted id, the key's grants read all
--    of its usage (vk.usage_rows, stamped events included); after that, by key as before. The
--    stamped events are found by stamp, not by key, so such a grant goes through everything
--    written since the last fold: only a key that gained its budget that recently pays for it. A
--    budget taken away and given back within a period counts the spend in between the same way.
--
-- 2. Reads of the stamped events compared the stamp with a subquery, whose value the planner does
--    not know, so it guessed a third of the indexed events. It now calls a STABLE function, which
--    the planner evaluates when it estimates, and the events table gets statistics now: until
--    0010's new column had them, every guess was a default one.
--
-- The start of a UTC day or month is one function, vk.utc_start, used by the reads below. (The fold
-- still spells the same expression out; it keeps 0010's text until a migration has to restate it.)

-- Statistics for 0010's fold_xid: a table that was large when the column was added has none until
-- autovacuum's next analyze, which waits for a tenth of the table to change. First, because it reads
-- a sample of the table (seconds on a large one) and every lock taken before it is held until the
-- migration commits. It blocks neither reads nor writes of the events; it would wait for a VACUUM
-- of the table, which on a large append-only table can run for long, so it skips the table then
-- (with a warning) and autovacuum's analyze comes later.
ANALYZE (SKIP_LOCKED) vk.usage_events;

CREATE FUNCTION vk.utc_start(p_unit text, p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc(p_unit, p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
$$;

-- The stamp from which events are not in the totals yet (see vk.usage_fold).
CREATE FUNCTION vk.usage_events_folded_below() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT events_folded_below FROM vk.usage_fold_state;
$$;

-- As in 0010, reading the stamp through the function above.
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
    CROSS JOIN LATERAL (VALUES ('daily', vk.utc_start('day', e.occurred_at)),
                               ('monthly', vk.utc_start('month', e.occurred_at))) AS s(period, period_start)
    WHERE e.fold_xid >= vk.usage_events_folded_below()
      AND e.key_id = ANY(p_keys)
      AND vk.usage_row_in_period(s.period, s.period_start, p_period, p_start)
    GROUP BY e.key_id, s.period, s.period_start, e.rejection;
$$;

-- The id of the transaction that gave the key its budget, while it has one; NULL for a key that has
-- had its budget since it was first written (it cannot have spent without it). A budget that only
-- changes its cap or period keeps it.
ALTER TABLE vk.virtual_keys ADD COLUMN budget_since bigint;

-- Keys whose budget may be that recent: those with a budget changed within the last day.
UPDATE vk.virtual_keys SET budget_since = pg_current_xact_id()::text::bigint
WHERE config ? 'budget' AND state <> 'tombstoned' AND updated_at > now() - interval '1 day';

CREATE FUNCTION vk.virtual_keys_note_budget_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (NEW.config ? 'budget') THEN
        NEW.budget_since := NULL;
    ELSIF TG_OP = 'UPDATE' AND NOT (OLD.config ? 'budget') THEN
        NEW.budget_since := pg_current_xact_id()::text::bigint;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER virtual_keys_budget_since BEFORE INSERT OR UPDATE OF config ON vk.virtual_keys
    FOR EACH ROW EXECUTE FUNCTION vk.virtual_keys_note_budget_since();

-- Per key that gained a budget: the id its first grant after that noted, and the budget_since it
-- was noted for (a row noted for an earlier gain is replaced at the next grant). A table of its own
-- rather than a column of vk.virtual_keys, so grants never lock a key's row (an upsert of the key
-- would wait for them while holding the registry's change counter).
CREATE TABLE vk.budget_full_reads (
    key_id text PRIMARY KEY,
    noted_for_budget_since bigint NOT NULL,
    until_folded_past bigint NOT NULL
);

-- Whether a grant must read all of the key's usage: it may have stamped events from before its
-- budget that no fold took yet. Notes the id at the key's first grant after it gained its budget.
-- SECURITY DEFINER, so that a sidecar's role needs no write access beyond usage and quotas; every
-- name in it is schema-qualified. A caller that may not write the budget pool itself is refused: it
-- would learn which keys just gained a budget, and could hold their grants up. The noted id is at least where the folds stand, so that after a
-- restore into a cluster with lower transaction ids the events left unfolded by the old one count.
CREATE FUNCTION vk.budget_reads_all_usage(p_key text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_since bigint;
    v_folded bigint;
    v_noted_for bigint;
    v_until bigint;
BEGIN
    IF NOT pg_catalog.has_table_privilege(session_user, 'vk.quota_budgets', 'UPDATE') THEN
        RAISE EXCEPTION 'permission denied: % may not write vk.quota_budgets', session_user USING ERRCODE = '42501';
    END IF;

    SELECT budget_since INTO v_since FROM vk.virtual_keys WHERE key_id = p_key;
    IF v_since IS NULL THEN
        RETURN false;
    END IF;

    SELECT events_folded_below INTO v_folded FROM vk.usage_fold_state;
    SELECT noted_for_budget_since, until_folded_past INTO v_noted_for, v_until FROM vk.budget_full_reads WHERE key_id = p_key;
    IF v_noted_for IS DISTINCT FROM v_since THEN
        -- The snapshot's xmax as well: above every id already handed out, whichever statement of
        -- this transaction took its id first.
        INSERT INTO vk.budget_full_reads AS r (key_id, noted_for_budget_since, until_folded_past)
        VALUES (p_key, v_since, GREATEST(pg_current_xact_id()::text::bigint, pg_snapshot_xmax(pg_current_snapshot())::text::bigint, v_folded))
        ON CONFLICT (key_id) DO UPDATE SET noted_for_budget_since = excluded.noted_for_budget_since, until_folded_past = excluded.until_folded_past
        WHERE r.noted_for_budget_since IS DISTINCT FROM excluded.noted_for_budget_since;
        RETURN true;
    END IF;

    RETURN v_until >= v_folded;
END;
$$;

-- As in 0008, with the spend read in full while vk.budget_reads_all_usage says so. Usage written by
-- a replica that had not learnt of the budget yet is read as long as the folds have not passed the
-- noted id; after that it reaches the pool with the fold that takes it.
CREATE OR REPLACE FUNCTION vk.quota_grant_budget(p_key text, p_period text, p_start timestamptz, p_cap numeric, p_want numeric, p_charge numeric,
    OUT given numeric, OUT remaining numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_recorded numeric;
    v_granted numeric;
BEGIN
    IF vk.budget_reads_all_usage(p_key) THEN
        SELECT coalesce(sum(cost_usd), 0) INTO v_recorded FROM vk.usage_rows(ARRAY[p_key], p_period, p_start);
    ELSE
        v_recorded := vk.recorded_spend(p_key, p_period, p_start);
    END IF;

    INSERT INTO vk.quota_budgets (key_id, period, period_start, granted)
    VALUES (p_key, p_period, p_start, v_recorded)
    ON CONFLICT DO NOTHING;

    SELECT granted INTO v_granted FROM vk.quota_budgets
    WHERE key_id = p_key AND period = p_period AND period_start = p_start
    FOR UPDATE;

    v_granted := GREATEST(v_granted + GREATEST(p_charge, 0), v_recorded);
    given := GREATEST(0, LEAST(p_want, p_cap - v_granted));
    remaining := GREATEST(0, p_cap - v_granted - given);
    UPDATE vk.quota_budgets SET granted = v_granted + given
    WHERE key_id = p_key AND period = p_period AND period_start = p_start;
END;
$$;
