-- The change stream: every committed change's events, per organization in seq order.
-- `event_seq` is the org's counter: each write transaction raises it as its last
-- statement and holds the row's lock until it commits, so seqs are gap-free and in
-- commit order (a reader never sees seq n+1 before seq n).
ALTER TABLE organizations ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
-- Events up to this seq have been trimmed (retention); older cursors are expired.
ALTER TABLE organizations ADD COLUMN events_trimmed_through BIGINT NOT NULL DEFAULT 0;

CREATE TABLE events (
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    subject_type TEXT COLLATE "C" NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL,
    actor_id BIGINT,
    token_id BIGINT,
    request_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    -- The event exactly as readers get it.
    payload TEXT NOT NULL,
    -- How it was made (IP, user agent, ...), for the audit log only.
    context TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE INDEX events_by_subject ON events (org_id, subject_type, subject_id, seq);
CREATE INDEX events_by_time ON events (created_at);
