-- A usage event may stand for several refused requests of one cause (the sidecar counts refusals
-- and writes one event per key, cause and batch), so that a storm of 429s costs one row instead of
-- one row per request. Served requests stay one row each: audit and billing need their request id.
-- Every existing row was one request, hence the default. The column's constant default needs no
-- table rewrite, and the checks are NOT VALID so that the migration does not scan a large table
-- under its exclusive lock: new rows are checked, old ones hold 1 by construction.
ALTER TABLE vk.usage_events ADD COLUMN request_count integer NOT NULL DEFAULT 1;
ALTER TABLE vk.usage_events ADD CONSTRAINT usage_events_request_count_positive CHECK (request_count > 0) NOT VALID;
ALTER TABLE vk.usage_events ADD CONSTRAINT usage_events_served_one_request CHECK (rejection IS NOT NULL OR request_count = 1) NOT VALID;
