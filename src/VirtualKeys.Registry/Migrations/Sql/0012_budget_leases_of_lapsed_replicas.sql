-- A replica's unused dollar lease went back to the pool only when the replica gave it back (an idle
-- key, shutdown). A replica killed without a graceful stop (SIGKILL, a lost node) never did, and its
-- lease stayed counted in vk.quota_budgets.granted until the period ended, and for a Total budget for
-- good: each crash could keep up to a lease of a key's budget from being spent, and the key was
-- refused before it had spent its cap. (Request and token leases belong to one minute's window and
-- end with it; parallel slots are recorded per replica and freed when it lapses.)
--
-- Dollar leases are now recorded per replica as well (vk.quota_budget_leases), and the heartbeat that
-- forgets a lapsed replica's presence and slots also gives the unused part of its dollar leases back
-- to the pools. A grant that its pool cannot fill does so for its own key at once: as the slots of a
-- lapsed replica stop counting at the TTL, not at the next heartbeat (a busy replica heartbeats every
-- five minutes only). What a lease row holds:
--
-- * held: what of the pool the replica holds and has not spent. The ledger learns of spend only at
--   the replica's grants and returns: each says what of its lease the replica has not settled yet
--   (a request in flight counts as not settled; its cost is settled when it ends), and the row
--   becomes that, plus the grant or less the return. The pool itself does not change when a replica says it spent part
--   of its lease: granted already counts the lease, and spend from a lease is counted as granted.
--   A replica only ever says less than the row holds (it spends, it does not gain); a grant or a
--   return never counts more for it than the row holds, which is what keeps a lease from being given
--   back twice.
-- * recorded: the key's recorded spend for the period (vk.usage_totals and the pending rows, as the
--   grant read it) when held was last said. A replica can spend after its last grant, and that spend
--   reaches the totals but not the ledger. So a lapsed replica's lease goes back less the spend
--   recorded for the key since then (at most held): that part stays counted as spent. Spend another
--   replica recorded meanwhile is counted in too, since usage does not say which replica spent it:
--   the reclaim may give back less than was unused, never more. Spend the dead replica made and never
--   recorded is not counted; like its other unrecorded usage, it is lost with it.
-- * seen_at: the replica's clock at that grant. A lease is reclaimed only once its replica has no
--   live presence and no grant of it came within the replica TTL, so that a replica whose first
--   grants come before its first heartbeat keeps them.
-- * reclaimed_at, assumed: a reclaimed lease stays as a marker for a day (held is then what it held,
--   assumed what the reclaim left counted as spent). A replica taken for dead may be alive: cut off
--   from PostgreSQL, paused, or simply idle. When it comes back, its first grant or return for the
--   key meets the marker: what it says it holds is not leased to it any more (a grant tells it how
--   much of it it still holds, none; it drops the rest and asks again within the cap), what it gives
--   back is not given back a second time, and what it spent since its last grant beyond what the
--   reclaim counted is charged to the pool.
--
-- Grants and returns lock the pool's row, then their lease row (a grant then the lapsed leases of
-- that pool it reclaims). The heartbeat takes the pools of the leases it reclaims in key order before
-- their lease rows, and does all of that before it locks its own presence: a grant locks the
-- replica's presence last (vk.quota_touch), so a heartbeat and a grant of one replica never wait for
-- each other in opposite orders. A reclaim skips lease rows another transaction holds (a grant of
-- that replica is it coming back).
--
-- The functions of migrations 0002 and 0011 stay as they were for sidecars of earlier releases during
-- a rolling upgrade: their leases are not recorded per replica, and are not reclaimed.

CREATE TABLE vk.quota_budget_leases (
    key_id text NOT NULL,
    period text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'total')),
    period_start timestamptz NOT NULL,
    replica_id text NOT NULL,
    held numeric NOT NULL CHECK (held >= 0),
    recorded numeric NOT NULL,
    seen_at timestamptz NOT NULL,
    reclaimed_at timestamptz,
    assumed numeric NOT NULL DEFAULT 0 CHECK (assumed >= 0),
    PRIMARY KEY (key_id, period, period_start, replica_id)
);
-- What the heartbeats look through: leases not refreshed within the TTL, and old markers.
CREATE INDEX quota_budget_leases_seen ON vk.quota_budget_leases (seen_at) WHERE reclaimed_at IS NULL;
CREATE INDEX quota_budget_leases_reclaimed ON vk.quota_budget_leases (reclaimed_at) WHERE reclaimed_at IS NOT NULL;

-- Whoever may read the pool may read its leases, and whoever may update the pool may also insert,
-- update and delete lease rows: the grant, return, heartbeat and leave functions do all three, where
-- no earlier function deleted from vk.quota_budgets (a least-privilege sidecar role has no DELETE
-- there). A sidecar's role given rights on the vk.quota_* tables one by one keeps working. (A role
-- given rights on every table in the schema afterwards, or through default privileges, has them.)
DO $$
DECLARE
    v_grant record;
BEGIN
    FOR v_grant IN
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee,
               bool_or(a.privilege_type = 'UPDATE') AS writes
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) a
        LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = 'vk.quota_budgets'::regclass
          AND a.grantee <> c.relowner
          AND a.privilege_type IN ('SELECT', 'UPDATE')
        GROUP BY 1
    LOOP
        EXECUTE format('GRANT %s ON vk.quota_budget_leases TO %s',
            CASE WHEN v_grant.writes THEN 'SELECT, INSERT, UPDATE, DELETE' ELSE 'SELECT' END, v_grant.grantee);
    END LOOP;
END;
$$;

-- The key's spend for a budget period as the pool reads it (as in 0011's vk.quota_grant_budget): all
-- of its usage while vk.budget_reads_all_usage says so, by key otherwise.
CREATE FUNCTION vk.quota_budget_recorded(p_key text, p_period text, p_start timestamptz)
RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
    IF vk.budget_reads_all_usage(p_key) THEN
        RETURN (SELECT coalesce(sum(cost_usd), 0) FROM vk.usage_rows(ARRAY[p_key], p_period, p_start));
    END IF;
    RETURN vk.recorded_spend(p_key, p_period, p_start);
END;
$$;

-- The same without noting anything, for a reclaim, which holds the pool's row already (a grant notes
-- the key's row in vk.budget_full_reads before it takes the pool's): all of the usage of a key that
-- gained its budget at some point, so never less than a grant of the key read.
CREATE FUNCTION vk.quota_budget_recorded_for_reclaim(p_key text, p_period text, p_start timestamptz)
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM vk.virtual_keys WHERE key_id = p_key AND budget_since IS NOT NULL)
                THEN (SELECT coalesce(sum(cost_usd), 0) FROM vk.usage_rows(ARRAY[p_key], p_period, p_start))
                ELSE vk.recorded_spend(p_key, p_period, p_start)
           END;
$$;

-- Reclaims the leases of one pool held by replicas that lapsed: no live presence (p_live_after) and
-- no grant since then, other than p_replica. Each is marked reclaimed; returns what the pool gets
-- back, which the caller takes off vk.quota_budgets.granted. The caller holds the pool's row; lease
-- rows another transaction holds are skipped (a grant of that replica is it coming back). p_recorded
-- is the key's recorded spend for the period when the caller has read it already, else NULL.
CREATE FUNCTION vk.quota_reclaim_pool_leases(p_key text, p_period text, p_start timestamptz, p_replica text,
    p_now timestamptz, p_live_after timestamptz, p_recorded numeric)
RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    v_lease record;
    v_assumed numeric;
    v_back numeric := 0;
BEGIN
    FOR v_lease IN
        SELECT l.replica_id, l.held, l.recorded FROM vk.quota_budget_leases l
        WHERE l.key_id = p_key AND l.period = p_period AND l.period_start = p_start
          AND l.reclaimed_at IS NULL AND l.seen_at < p_live_after AND l.replica_id <> p_replica
          AND NOT EXISTS (SELECT 1 FROM vk.quota_replicas r WHERE r.replica_id = l.replica_id AND r.last_seen >= p_live_after)
        FOR UPDATE OF l SKIP LOCKED
    LOOP
        IF p_recorded IS NULL THEN
            p_recorded := vk.quota_budget_recorded_for_reclaim(p_key, p_period, p_start);
        END IF;

        v_assumed := LEAST(v_lease.held, GREATEST(0, p_recorded - v_lease.recorded));
        v_back := v_back + v_lease.held - v_assumed;
        UPDATE vk.quota_budget_leases SET reclaimed_at = p_now, assumed = v_assumed
        WHERE key_id = p_key AND period = p_period AND period_start = p_start AND replica_id = v_lease.replica_id;
    END LOOP;

    RETURN v_back;
END;
$$;

-- 0011's vk.quota_grant_budget for one replica, which says what of its lease it has not settled yet
-- (p_held; NULL from a caller that does not keep count: it keeps what the row holds). Returns, beside
-- the grant and what is left, how much of p_held is still leased to the replica (kept): all of it,
-- unless the row holds less (none once the lease was reclaimed). The replica drops the rest.
-- A grant the pool cannot fill reclaims the pool's leases of replicas that lapsed before p_live_after
-- (its replica's clock less the TTL) at once, as slots of lapsed replicas stop counting at once,
-- rather than leaving the key refused until the next heartbeat that forgets them.
CREATE FUNCTION vk.quota_grant_budget_lease(p_key text, p_period text, p_start timestamptz, p_cap numeric, p_want numeric, p_charge numeric,
    p_replica text, p_now timestamptz, p_live_after timestamptz, p_held numeric,
    OUT given numeric, OUT remaining numeric, OUT kept numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_recorded numeric;
    v_granted numeric;
    v_lease record;
    v_found boolean;
    v_spent_since numeric := 0;
BEGIN
    -- (Not GREATEST(p_held, 0), which is 0 for NULL.)
    p_held := CASE WHEN p_held < 0 THEN 0 ELSE p_held END;
    v_recorded := vk.quota_budget_recorded(p_key, p_period, p_start);

    INSERT INTO vk.quota_budgets (key_id, period, period_start, granted)
    VALUES (p_key, p_period, p_start, v_recorded)
    ON CONFLICT DO NOTHING;

    SELECT granted INTO v_granted FROM vk.quota_budgets
    WHERE key_id = p_key AND period = p_period AND period_start = p_start
    FOR UPDATE;

    SELECT held, reclaimed_at, assumed INTO v_lease FROM vk.quota_budget_leases
    WHERE key_id = p_key AND period = p_period AND period_start = p_start AND replica_id = p_replica
    FOR UPDATE;
    v_found := FOUND;

    IF NOT v_found THEN
        kept := 0;
    ELSIF v_lease.reclaimed_at IS NOT NULL THEN
        -- Reclaimed while the replica was taken for dead. What it spent since its last grant (what it
        -- held then less what it holds now) beyond what the reclaim counted is charged.
        kept := 0;
        v_spent_since := GREATEST(0, v_lease.held - coalesce(p_held, v_lease.held) - v_lease.assumed);
    ELSE
        kept := LEAST(coalesce(p_held, v_lease.held), v_lease.held);
    END IF;

    v_granted := GREATEST(v_granted + GREATEST(p_charge, 0) + v_spent_since, v_recorded);
    IF p_cap - v_granted < p_want THEN
        v_granted := GREATEST(v_granted - vk.quota_reclaim_pool_leases(p_key, p_period, p_start, p_replica, p_now, p_live_after, v_recorded), v_recorded);
    END IF;
    given := GREATEST(0, LEAST(p_want, p_cap - v_granted));
    remaining := GREATEST(0, p_cap - v_granted - given);
    UPDATE vk.quota_budgets SET granted = v_granted + given
    WHERE key_id = p_key AND period = p_period AND period_start = p_start;

    IF kept + given > 0 THEN
        INSERT INTO vk.quota_budget_leases AS l (key_id, period, period_start, replica_id, held, recorded, seen_at)
        VALUES (p_key, p_period, p_start, p_replica, kept + given, v_recorded, p_now)
        ON CONFLICT (key_id, period, period_start, replica_id) DO UPDATE SET
            held = excluded.held,
            recorded = excluded.recorded,
            seen_at = GREATEST(l.seen_at, excluded.seen_at),
            reclaimed_at = NULL,
            assumed = 0;
    ELSIF v_found THEN
        DELETE FROM vk.quota_budget_leases
        WHERE key_id = p_key AND period = p_period AND period_start = p_start AND replica_id = p_replica;
    END IF;

    IF NOT v_found THEN
        -- The replica held nothing of the key's pool for this period: what it holds of earlier
        -- periods (or of another period kind) is over, and it dropped it when the period changed.
        -- Rows another transaction holds stay for its next such grant, or its leaving.
        DELETE FROM vk.quota_budget_leases
        WHERE (key_id, period, period_start, replica_id) IN (
            SELECT key_id, period, period_start, replica_id FROM vk.quota_budget_leases
            WHERE key_id = p_key AND replica_id = p_replica AND (period, period_start) <> (p_period, p_start)
            FOR UPDATE SKIP LOCKED);
    END IF;
END;
$$;

-- Gives back p_amount of a replica's lease, which then holds p_held unsettled (spend in flight; NULL
-- from a caller that does not keep count). Never more than the row holds: a lease reclaimed meanwhile
-- is not given back twice. Returning to a reclaimed lease charges what the replica spent since its
-- last grant beyond what the reclaim counted, and leases again what it still has in flight: those
-- requests were admitted already.
CREATE FUNCTION vk.quota_return_budget_lease(p_key text, p_period text, p_start timestamptz, p_replica text, p_amount numeric, p_held numeric)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_lease record;
    v_back numeric;
    v_held numeric;
    v_charge numeric := 0;
BEGIN
    p_held := CASE WHEN p_held < 0 THEN 0 ELSE p_held END;
    PERFORM 1 FROM vk.quota_budgets
    WHERE key_id = p_key AND period = p_period AND period_start = p_start
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    SELECT held, reclaimed_at, assumed INTO v_lease FROM vk.quota_budget_leases
    WHERE key_id = p_key AND period = p_period AND period_start = p_start AND replica_id = p_replica
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    IF v_lease.reclaimed_at IS NOT NULL THEN
        v_back := 0;
        v_held := coalesce(p_held, 0);
        v_charge := GREATEST(0, v_lease.held - GREATEST(p_amount, 0) - v_held - v_lease.assumed) + v_held;
    ELSE
        v_back := LEAST(GREATEST(p_amount, 0), v_lease.held);
        v_held := LEAST(v_lease.held - v_back, coalesce(p_held, v_lease.held - v_back));
    END IF;

    IF v_back > 0 OR v_charge > 0 THEN
        UPDATE vk.quota_budgets SET granted = GREATEST(0, granted - v_back + v_charge)
        WHERE key_id = p_key AND period = p_period AND period_start = p_start;
    END IF;

    IF v_held > 0 THEN
        UPDATE vk.quota_budget_leases SET held = v_held, reclaimed_at = NULL, assumed = 0
        WHERE key_id = p_key AND period = p_period AND period_start = p_start AND replica_id = p_replica;
    ELSE
        DELETE FROM vk.quota_budget_leases
        WHERE key_id = p_key AND period = p_period AND period_start = p_start AND replica_id = p_replica;
    END IF;
END;
$$;

-- Gives every pool back the unused part of the leases of replicas that lapsed (no live presence, no
-- grant since p_live_after) other than p_replica, and forgets markers a day old. Returns how much it
-- gave back.
CREATE FUNCTION vk.quota_reclaim_budget_leases(p_replica text, p_now timestamptz, p_live_after timestamptz)
RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    v_pool record;
    v_back numeric;
    v_total numeric := 0;
BEGIN
    -- The pools first, in key order, as two heartbeats that both reclaim take them.
    FOR v_pool IN
        SELECT b.key_id, b.period, b.period_start FROM vk.quota_budgets b
        WHERE (b.key_id, b.period, b.period_start) IN (
            SELECT l.key_id, l.period, l.period_start FROM vk.quota_budget_leases l
            WHERE l.reclaimed_at IS NULL AND l.seen_at < p_live_after AND l.replica_id <> p_replica
              AND NOT EXISTS (SELECT 1 FROM vk.quota_replicas r WHERE r.replica_id = l.replica_id AND r.last_seen >= p_live_after))
        ORDER BY b.key_id, b.period, b.period_start
        FOR UPDATE OF b
    LOOP
        -- The leases are looked for again under the pool's lock: a grant that came meanwhile refreshed its own.
        v_back := vk.quota_reclaim_pool_leases(v_pool.key_id, v_pool.period, v_pool.period_start, p_replica, p_now, p_live_after, NULL);
        IF v_back > 0 THEN
            UPDATE vk.quota_budgets SET granted = GREATEST(0, granted - v_back)
            WHERE key_id = v_pool.key_id AND period = v_pool.period AND period_start = v_pool.period_start;
            v_total := v_total + v_back;
        END IF;
    END LOOP;

    -- After the pools, so as to wait for no pool while holding a lease row.
    DELETE FROM vk.quota_budget_leases
    WHERE (key_id, period, period_start, replica_id) IN (
        SELECT key_id, period, period_start, replica_id FROM vk.quota_budget_leases
        WHERE reclaimed_at < p_now - interval '1 day'
        FOR UPDATE SKIP LOCKED);

    RETURN v_total;
END;
$$;

-- As in 0007, with the dollar leases of lapsed replicas given back first (see the lock order above).
CREATE OR REPLACE FUNCTION vk.quota_heartbeat(p_replica text, p_now timestamptz, p_live_after timestamptz, p_forget_before timestamptz,
    OUT rejoined boolean, OUT live integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_previous timestamptz;
BEGIN
    PERFORM vk.quota_reclaim_budget_leases(p_replica, p_now, p_live_after);

    SELECT last_seen INTO v_previous FROM vk.quota_replicas WHERE replica_id = p_replica FOR UPDATE;
    rejoined := v_previous IS NULL OR v_previous < p_live_after;

    DELETE FROM vk.quota_replicas
    WHERE replica_id IN (
        SELECT replica_id FROM vk.quota_replicas
        WHERE last_seen < p_live_after AND replica_id <> p_replica
        FOR UPDATE SKIP LOCKED);
    DELETE FROM vk.quota_windows
    WHERE (key_id, dimension, window_start) IN (
        SELECT key_id, dimension, window_start FROM vk.quota_windows
        WHERE window_start < p_forget_before
        FOR UPDATE SKIP LOCKED);
    IF rejoined THEN
        DELETE FROM vk.quota_slots WHERE replica_id = p_replica;
    END IF;

    INSERT INTO vk.quota_replicas (replica_id, last_seen) VALUES (p_replica, p_now)
    ON CONFLICT (replica_id) DO UPDATE SET last_seen = GREATEST(vk.quota_replicas.last_seen, excluded.last_seen);

    SELECT count(*) INTO live FROM vk.quota_replicas WHERE last_seen >= p_live_after;
END;
$$;

-- A replica shutting down has given its leases back as far as it could. What its lease rows still
-- hold (a return that failed, a refill in flight, a grant whose answer was lost, requests in flight)
-- is left for the next heartbeat of any replica to reclaim at once, less the spend recorded since:
-- deleted, it would stay counted for good. Its slots are free at once. The lease rows go first,
-- before the presence, in the order a grant takes them.
CREATE OR REPLACE FUNCTION vk.quota_leave(p_replica text)
RETURNS void LANGUAGE sql AS $$
    DELETE FROM vk.quota_budget_leases WHERE replica_id = p_replica AND held = 0 AND reclaimed_at IS NULL;
    UPDATE vk.quota_budget_leases SET seen_at = '-infinity' WHERE replica_id = p_replica AND reclaimed_at IS NULL;
    DELETE FROM vk.quota_replicas WHERE replica_id = p_replica;
$$;
