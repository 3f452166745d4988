-- Usage totals are kept per day and per month only; a week is the sum of its days and the total
-- the sum of a key's months. Every usage report upserted four rows before (day, week, month, total)
-- and those upserts were most of what PostgreSQL spent on usage; two rows per key and batch keep
-- every read bounded (a week reads at most 7 rows, a month 1, the total one per month of history).
-- The week and total rows written so far say nothing that the day and month rows do not: they are
-- removed rather than left to go stale.
DELETE FROM vk.usage_totals WHERE period IN ('weekly', 'total');

-- Room on each page for the next version of a row: an upsert that finds it can then stay on the
-- page and leave the primary key alone (a heap-only update). Applies to pages written from now on.
ALTER TABLE vk.usage_totals SET (fillfactor = 50);

-- The stored rows that make up one budget period of the given keys: a day and a month are one row
-- each, a week its days, the total every month. Every reader of usage goes through this (the
-- registry's usage reads and vk.recorded_spend), so the mapping is written once. Rows start at
-- 00:00 UTC, so the week's end is computed in UTC (interval arithmetic on timestamptz follows the
-- session's time zone).
CREATE FUNCTION vk.usage_rows(p_keys text[], p_period text, p_start timestamptz)
RETURNS SETOF vk.usage_totals LANGUAGE sql STABLE AS $$
    SELECT * FROM vk.usage_totals
    WHERE key_id = ANY(p_keys)
      AND CASE p_period
              WHEN 'weekly' THEN period = 'daily' AND period_start >= p_start
                                 AND period_start < ((p_start AT TIME ZONE 'UTC') + interval '7 days') AT TIME ZONE 'UTC'
              WHEN 'total' THEN period = 'monthly'
              ELSE period = p_period AND period_start = p_start
          END;
$$;

-- What the registry recorded for one key and budget period.
CREATE FUNCTION vk.recorded_spend(p_key text, p_period text, p_start timestamptz)
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(cost_usd), 0) FROM vk.usage_rows(ARRAY[p_key], p_period, p_start);
$$;

-- As in migration 0002, with the recorded spend read through vk.recorded_spend.
CREATE OR REPLACE FUNCTION vk.quota_grant_budget(p_key text, p_period text, p_start timestamptz, p_cap numeric, p_want numeric, p_charge numeric,
    OUT given numeric, OUT remaining numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_recorded numeric;
    v_granted numeric;
BEGIN
    v_recorded := vk.recorded_spend(p_key, p_period, p_start);

    INSERT INTO vk.quota_budgets (key_id, period, period_start, granted)
    VALUES (p_key, p_period, p_start, v_recorded)
    ON CONFLICT DO NOTHING;

    SELECT granted INTO v_granted FROM vk.quota_budgets
    WHERE key_id = p_key AND period = p_period AND period_start = p_start
    FOR UPDATE;

    v_granted := GREATEST(v_granted, v_recorded) + GREATEST(p_charge, 0);
    given := GREATEST(0, LEAST(p_want, p_cap - v_granted));
    remaining := GREATEST(0, p_cap - v_granted - given);
    UPDATE vk.quota_budgets SET granted = v_granted + given
    WHERE key_id = p_key AND period = p_period AND period_start = p_start;
END;
$$;
