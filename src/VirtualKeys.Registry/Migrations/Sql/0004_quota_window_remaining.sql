-- quota_grant_window that also returns what is left of the window after the grant. A replica whose
-- grant emptied the window then knows it without asking once more and being given nothing: one
-- round trip less per replica and window under saturation. It grants through quota_grant_window
-- (0002), whose row lock is held to the end of the transaction, and reads what is left under it.
CREATE FUNCTION vk.quota_grant_window_left(p_key text, p_dimension text, p_window timestamptz, p_cap bigint, p_want bigint, p_charge bigint,
    OUT given bigint, OUT remaining bigint)
LANGUAGE plpgsql AS $$
BEGIN
    given := vk.quota_grant_window(p_key, p_dimension, p_window, p_cap, p_want, p_charge);
    SELECT GREATEST(0, p_cap - granted) INTO remaining FROM vk.quota_windows
    WHERE key_id = p_key AND dimension = p_dimension AND window_start = p_window;
END;
$$;
