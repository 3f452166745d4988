-- Every heartbeat gives back the dollar leases of lapsed replicas (0012), and took each pool that had
-- one with FOR UPDATE, waiting for it. A transaction that held a pool row long (a grant stalled
-- between its statements, a session left open on the row) so held up every replica's heartbeat, and
-- a heartbeat that does not come in time makes the replica doubt its leases and, past the TTL, the
-- others take it for dead. Pools another transaction holds are now skipped: a grant that holds one
-- reclaims that pool's lapsed leases itself when it cannot fill its ask (0012's
-- vk.quota_reclaim_pool_leases), and the next heartbeat that finds the pool free gives them back.
-- Skipping also leaves two heartbeats nothing to wait for in each other, in any order.

CREATE OR REPLACE FUNCTION vk.quota_reclaim_budget_leases(p_replica text, p_now timestamptz, p_live_after timestamptz)
RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    v_pool record;
    v_back numeric;
    v_total numeric := 0;
BEGIN
    -- The pools first, in key order; a pool another transaction holds is left for later.
    FOR v_pool IN
        SELECT b.key_id, b.period, b.period_start FROM vk.quota_budgets b
        WHERE (b.key_id, b.period, b.period_start) IN (
            SELECT l.key_id, l.period, l.period_start FROM vk.quota_budget_leases l
            WHERE l.reclaimed_at IS NULL AND l.seen_at < p_live_after AND l.replica_id <> p_replica
              AND NOT EXISTS (SELECT 1 FROM vk.quota_replicas r WHERE r.replica_id = l.replica_id AND r.last_seen >= p_live_after))
        ORDER BY b.key_id, b.period, b.period_start
        FOR UPDATE OF b SKIP LOCKED
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
