-- The registry of virtual keys. Raw provider keys and tokens never appear here:
-- credentials are Data Protection ciphertext, tokens are SHA-256 hashes,
-- and the Data Protection key ring is itself encrypted under a key-encryption key.

-- One row whose counter orders every change to a key. Writers take its row lock in the same
-- transaction as the change, so change versions become visible in commit order and
-- "list changed since N" never skips a change that commits late.
CREATE TABLE vk.registry_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    change_version bigint NOT NULL
);
INSERT INTO vk.registry_state (singleton, change_version) VALUES (true, 0);

CREATE TABLE vk.virtual_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace text NOT NULL,
    name text NOT NULL,
    uid text NOT NULL,
    key_id text NOT NULL UNIQUE,
    generation bigint NOT NULL,
    state text NOT NULL CHECK (state IN ('active', 'suspended', 'tombstoned')),
    spec_fingerprint text NOT NULL,
    -- The resolved configuration without secrets: models, aliases, limits, budget, providers' non-secret fields.
    config jsonb NOT NULL,
    change_version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    tombstoned_at timestamptz,
    UNIQUE (namespace, name, uid)
);
-- A Kubernetes name is reused after a delete; only one live key may hold it at a time.
CREATE UNIQUE INDEX virtual_keys_live_name ON vk.virtual_keys (namespace, name) WHERE state <> 'tombstoned';
CREATE INDEX virtual_keys_change_version ON vk.virtual_keys (change_version);

CREATE TABLE vk.provider_credentials (
    virtual_key bigint NOT NULL REFERENCES vk.virtual_keys (id) ON DELETE CASCADE,
    provider_name text NOT NULL,
    -- ASP.NET Core Data Protection payload; the purpose binds it to this key's uid and provider.
    ciphertext bytea NOT NULL,
    -- HMAC-SHA256 of the raw key under a key derived from the KEK: compares without decrypting.
    fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (virtual_key, provider_name)
);

CREATE TABLE vk.token_hashes (
    hash bytea PRIMARY KEY CHECK (length(hash) = 32),
    virtual_key bigint NOT NULL REFERENCES vk.virtual_keys (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    -- Set when the token is rotated out: it keeps working until then (the grace period).
    not_after timestamptz
);
CREATE INDEX token_hashes_virtual_key ON vk.token_hashes (virtual_key);

-- Usage is keyed by the public key id, not a foreign key: a usage batch that names a key
-- deleted meanwhile must still be recorded, never rejected and retried forever.
CREATE TABLE vk.usage_totals (
    key_id text NOT NULL,
    period text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'total')),
    period_start timestamptz NOT NULL,
    requests bigint NOT NULL DEFAULT 0,
    input_tokens bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    cost_usd numeric NOT NULL DEFAULT 0,
    rejections jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_request_at timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (key_id, period, period_start)
);

CREATE TABLE vk.usage_events (
    request_id text PRIMARY KEY,
    key_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    model text,
    provider text,
    input_tokens bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL CHECK (output_tokens >= 0),
    cost_usd numeric NOT NULL CHECK (cost_usd >= 0),
    rejection text,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX usage_events_key_time ON vk.usage_events (key_id, occurred_at);

-- Audit and billing read this table; nobody rewrites history.
CREATE FUNCTION vk.refuse_usage_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'vk.usage_events is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER usage_events_append_only BEFORE UPDATE OR DELETE ON vk.usage_events
    FOR EACH ROW EXECUTE FUNCTION vk.refuse_usage_event_change();

-- Adds two {"cause": count} objects.
CREATE FUNCTION vk.add_counts(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(cause, total), '{}'::jsonb)
    FROM (
        SELECT key AS cause, sum(value::bigint) AS total
        FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) AS both_sides
        GROUP BY key
    ) AS summed;
$$;

-- The ASP.NET Core Data Protection key ring; each element's key material is encrypted under the KEK.
CREATE TABLE vk.data_protection_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    friendly_name text NOT NULL UNIQUE,
    xml text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
