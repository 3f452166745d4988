-- quota_grant_window that also returns what is left of the window after the grant. A replica whose
-- grant emptied the window then knows it without asking once more and being given nothing: one
-- round trip less per replica and window under saturation. The counters are the same (0002), so
-- replicas calling either function share them.
CREATE FUNCTION vk.quota_grant_window_left(p_key text, p_dimension text, p_window timestamptz, p_cap bigint, p_want bigint, p_charge bigint,
    OUT given bigint, OUT remaining bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_granted bigint;
BEGIN
    INSERT INTO vk.quota_windows (key_id, dimension, window_start, granted)
    VALUES (p_key, p_dimension, p_window, 0)
    ON CONFLICT DO NOTHING;

    SELECT granted INTO v_granted FROM vk.quota_windows
    WHERE key_id = p_key AND dimension = p_dimension AND window_start = p_window
    FOR UPDATE;

    v_granted := v_granted + GREATEST(p_charge, 0);
    given := GREATEST(0, LEAST(p_want, p_cap - v_granted));
    remaining := GREATEST(0, p_cap - v_granted - given);
    UPDATE vk.quota_windows SET granted = v_granted + given
    WHERE key_id = p_key AND dimension = p_dimension AND window_start = p_window;
END;
$$;
