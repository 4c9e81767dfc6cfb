-- Webhook endpoints, their deliveries and the attempts of each (the delivery log).

-- An org's endpoints. The secret is kept as shown to its creator (`whsec_...`), since
-- Roster signs with it; see the README on how it is protected at rest.
CREATE TABLE webhooks (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- A JSON array of event types or globs; empty means every type.
    event_types TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    failing_since BIGINT,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    -- The last seq of the org's stream turned into deliveries for this endpoint.
    stream_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_by_org ON webhooks (org_id, created_at);

-- One (endpoint, event) to deliver. `next_attempt_at` is set while an attempt is due;
-- `lease` and `lease_until` mark a claim in flight (claims take rows with SKIP LOCKED,
-- so that several instances share the work).
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    org_id TEXT COLLATE "C" NOT NULL,
    webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    event_type TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Attempts made before the retry schedule last started (a recovery starts it again).
    schedule_from INTEGER NOT NULL DEFAULT 0,
    by_hand BOOLEAN NOT NULL DEFAULT FALSE,
    next_attempt_at BIGINT,
    lease TEXT COLLATE "C",
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
-- Each endpoint's due deliveries, oldest first: a claim takes a few from every endpoint
-- that has room, so that one endpoint's backlog never hides another's.
CREATE INDEX webhook_deliveries_due_by_webhook
    ON webhook_deliveries (webhook_id, next_attempt_at, id) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (updated_at);
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until)
    WHERE lease IS NOT NULL;

CREATE TABLE webhook_attempts (
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code INTEGER,
    error_kind TEXT,
    response_head TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
CREATE INDEX webhook_attempts_by_time ON webhook_attempts (started_at);
