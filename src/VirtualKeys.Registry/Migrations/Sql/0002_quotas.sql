-- Cross-replica quotas. Sidecar replicas do not ask PostgreSQL per request: they carve leases
-- (blocks of requests, tokens, dollars and parallel slots) from the counters below, admit locally
-- from them, and give back what they did not use. Each grant is one function call, so one round
-- trip, and takes the counter's row lock, so concurrent grants never hand out more than the cap.

-- How much of a key's per-minute limit (requests or tokens) replicas have taken in one window.
CREATE TABLE vk.quota_windows (
    key_id text NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('requests', 'tokens')),
    window_start timestamptz NOT NULL,
    granted bigint NOT NULL CHECK (granted >= 0),
    PRIMARY KEY (key_id, dimension, window_start)
);
CREATE INDEX quota_windows_window_start ON vk.quota_windows (window_start);

-- Dollars of a key's budget period handed out: spend already recorded (seeded from usage_totals
-- when the row is created) plus what replicas leased and have not given back.
CREATE TABLE vk.quota_budgets (
    key_id text NOT NULL,
    period text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'total')),
    period_start timestamptz NOT NULL,
    granted numeric NOT NULL CHECK (granted >= 0),
    PRIMARY KEY (key_id, period, period_start)
);

-- Live sidecar replicas. A replica that stops heartbeating is deleted by the others' heartbeats,
-- and its parallel slots with it.
CREATE TABLE vk.quota_replicas (
    replica_id text PRIMARY KEY,
    last_seen timestamptz NOT NULL
);

CREATE TABLE vk.quota_slots (
    key_id text NOT NULL,
    replica_id text NOT NULL REFERENCES vk.quota_replicas (replica_id) ON DELETE CASCADE,
    slots integer NOT NULL CHECK (slots >= 0),
    PRIMARY KEY (key_id, replica_id)
);

-- Adds p_charge (use a replica already made: while PostgreSQL was away, or beyond its lease)
-- unconditionally, then grants up to p_want of what is left below p_cap. Returns the grant.
CREATE FUNCTION vk.quota_grant_window(p_key text, p_dimension text, p_window timestamptz, p_cap bigint, p_want bigint, p_charge bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_granted bigint;
    v_give bigint;
BEGIN
    INSERT INTO vk.quota_windows (key_id, dimension, window_start, granted)
    VALUES (p_key, p_dimension, p_window, 0)
    ON CONFLICT DO NOTHING;

    SELECT granted INTO v_granted FROM vk.quota_windows
    WHERE key_id = p_key AND dimension = p_dimension AND window_start = p_window
    FOR UPDATE;

    v_granted := v_granted + GREATEST(p_charge, 0);
    v_give := GREATEST(0, LEAST(p_want, p_cap - v_granted));
    UPDATE vk.quota_windows SET granted = v_granted + v_give
    WHERE key_id = p_key AND dimension = p_dimension AND window_start = p_window;
    RETURN v_give;
END;
$$;

-- Gives back an unused part of a window's grant.
CREATE FUNCTION vk.quota_return_window(p_key text, p_dimension text, p_window timestamptz, p_amount bigint)
RETURNS void LANGUAGE sql AS $$
    UPDATE vk.quota_windows SET granted = GREATEST(0, granted - p_amount)
    WHERE key_id = p_key AND dimension = p_dimension AND window_start = p_window AND p_amount > 0;
$$;

-- Like quota_grant_window for dollars. The pool never counts less than the spend usage_totals
-- recorded for the period, so spend from a replica that crashed after flushing still counts.
-- Returns the grant and what is left in the pool afterwards.
CREATE FUNCTION vk.quota_grant_budget(p_key text, p_period text, p_start timestamptz, p_cap numeric, p_want numeric, p_charge numeric,
    OUT given numeric, OUT remaining numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_recorded numeric;
    v_granted numeric;
BEGIN
    SELECT coalesce(max(cost_usd), 0) INTO v_recorded FROM vk.usage_totals
    WHERE key_id = p_key AND period = p_period AND period_start = p_start;

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

CREATE FUNCTION vk.quota_return_budget(p_key text, p_period text, p_start timestamptz, p_amount numeric)
RETURNS void LANGUAGE sql AS $$
    UPDATE vk.quota_budgets SET granted = GREATEST(0, granted - p_amount)
    WHERE key_id = p_key AND period = p_period AND period_start = p_start AND p_amount > 0;
$$;

-- Grants parallel slots while the slots held by live replicas stay within p_cap. Slots of replicas
-- not seen since p_live_after do not count (their heartbeat lapsed: they are dead or cut off).
CREATE FUNCTION vk.quota_grant_slots(p_key text, p_replica text, p_now timestamptz, p_live_after timestamptz, p_cap integer, p_want integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_held integer;
    v_give integer;
BEGIN
    -- Serializes grants of one key: the sum below must not change before this grant is written.
    PERFORM pg_advisory_xact_lock(hashtextextended('vk-quota-slots:' || p_key, 0));

    INSERT INTO vk.quota_replicas (replica_id, last_seen) VALUES (p_replica, p_now)
    ON CONFLICT (replica_id) DO NOTHING;

    SELECT coalesce(sum(s.slots), 0) INTO v_held
    FROM vk.quota_slots s JOIN vk.quota_replicas r ON r.replica_id = s.replica_id
    WHERE s.key_id = p_key AND (r.last_seen >= p_live_after OR s.replica_id = p_replica);

    v_give := GREATEST(0, LEAST(p_want, p_cap - v_held));
    IF v_give > 0 THEN
        INSERT INTO vk.quota_slots (key_id, replica_id, slots) VALUES (p_key, p_replica, v_give)
        ON CONFLICT (key_id, replica_id) DO UPDATE SET slots = vk.quota_slots.slots + excluded.slots;
    END IF;
    RETURN v_give;
END;
$$;

CREATE FUNCTION vk.quota_return_slots(p_key text, p_replica text, p_amount integer)
RETURNS void LANGUAGE sql AS $$
    UPDATE vk.quota_slots SET slots = GREATEST(0, slots - p_amount)
    WHERE key_id = p_key AND replica_id = p_replica AND p_amount > 0;
$$;

-- A replica's heartbeat: forgets replicas not seen since p_live_after (their slots go with them)
-- and windows older than p_forget_before. A replica whose own heartbeat had lapsed "rejoins": its
-- slots were not counted meanwhile and are dropped, and it starts over with none.
CREATE FUNCTION vk.quota_heartbeat(p_replica text, p_now timestamptz, p_live_after timestamptz, p_forget_before timestamptz,
    OUT rejoined boolean, OUT live integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_previous timestamptz;
BEGIN
    SELECT last_seen INTO v_previous FROM vk.quota_replicas WHERE replica_id = p_replica FOR UPDATE;
    rejoined := v_previous IS NULL OR v_previous < p_live_after;

    DELETE FROM vk.quota_replicas WHERE last_seen < p_live_after AND replica_id <> p_replica;
    DELETE FROM vk.quota_windows WHERE window_start < p_forget_before;
    IF rejoined THEN
        DELETE FROM vk.quota_slots WHERE replica_id = p_replica;
    END IF;

    INSERT INTO vk.quota_replicas (replica_id, last_seen) VALUES (p_replica, p_now)
    ON CONFLICT (replica_id) DO UPDATE SET last_seen = GREATEST(vk.quota_replicas.last_seen, excluded.last_seen);

    SELECT count(*) INTO live FROM vk.quota_replicas WHERE last_seen >= p_live_after;
END;
$$;

-- A replica shutting down: its slots are free at once, not after the heartbeat lapses.
CREATE FUNCTION vk.quota_leave(p_replica text)
RETURNS void LANGUAGE sql AS $$
    DELETE FROM vk.quota_replicas WHERE replica_id = p_replica;
$$;
