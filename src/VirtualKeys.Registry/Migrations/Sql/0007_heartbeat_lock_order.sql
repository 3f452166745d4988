-- Heartbeats of replicas that all lapsed (after a PostgreSQL outage longer than the replica TTL)
-- deadlocked: each locked its own row, then tried to delete the others' rows, which those held.
-- A row another heartbeat holds is that replica coming back, not one to forget: it is skipped, and
-- so are old windows another heartbeat is already deleting. The rest is as in 0002.
CREATE OR REPLACE FUNCTION vk.quota_heartbeat(p_replica text, p_now timestamptz, p_live_after timestamptz, p_forget_before timestamptz,
    OUT rejoined boolean, OUT live integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_previous timestamptz;
BEGIN
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
