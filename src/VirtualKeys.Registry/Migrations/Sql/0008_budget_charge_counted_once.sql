-- A budget charge is spend a replica made beyond its leases. Its usage may reach vk.usage_totals
-- before the charge reaches the pool (a replica spending its share while the quota counters are
-- away writes usage all the same), and the pool added the charge on top of the recorded spend:
-- that spend counted twice and the key was refused before its cap. Granted plus charges is what the
-- replicas consumed; the recorded spend is what was written: the pool is the larger of the two.
-- Otherwise as in 0006.
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

    v_granted := GREATEST(v_granted + GREATEST(p_charge, 0), v_recorded);
    given := GREATEST(0, LEAST(p_want, p_cap - v_granted));
    remaining := GREATEST(0, p_cap - v_granted - given);
    UPDATE vk.quota_budgets SET granted = v_granted + given
    WHERE key_id = p_key AND period = p_period AND period_start = p_start;
END;
$$;
