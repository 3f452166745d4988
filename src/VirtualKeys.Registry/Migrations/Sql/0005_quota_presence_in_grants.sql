-- A replica's grants keep it known alive, so that a replica that refills regularly needs no
-- heartbeat of its own for that: one round trip less every heartbeat interval per replica. A grant
-- only refreshes a presence that has not lapsed. A replica whose presence lapsed must rejoin through
-- quota_heartbeat, which drops the slots the others stopped counting; a grant never does that, so the
-- replica's own bookkeeping of its slots stays right whatever order its grants answer in.
-- Returns whether the presence was refreshed and how many replicas are alive.
CREATE FUNCTION vk.quota_touch(p_replica text, p_now timestamptz, p_live_after timestamptz,
    OUT present boolean, OUT live integer)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE vk.quota_replicas SET last_seen = GREATEST(last_seen, p_now)
    WHERE replica_id = p_replica AND last_seen >= p_live_after;
    present := FOUND;
    SELECT count(*) INTO live FROM vk.quota_replicas WHERE last_seen >= p_live_after;
END;
$$;
