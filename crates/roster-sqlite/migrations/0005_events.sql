-- The change stream: every committed change's events, per organization in seq order
-- (1, 2, 3, ... with no gaps: the single writer gives each its place in the
-- transaction that makes the change).
ALTER TABLE organizations ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
-- Events up to this seq have been trimmed (retention); older cursors are expired.
ALTER TABLE organizations ADD COLUMN events_trimmed_through INTEGER NOT NULL DEFAULT 0;

-- A rowid table (appends are cheap), each event's place unique per org; rows are too
-- big (the payload) for a WITHOUT ROWID table to pay off.
CREATE TABLE events (
    org_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    actor_id INTEGER,
    token_id INTEGER,
    request_id TEXT,
    created_at INTEGER NOT NULL,
    -- The event exactly as readers get it.
    payload TEXT NOT NULL,
    -- How it was made (IP, user agent, ...), for the audit log only.
    context TEXT NOT NULL
);

CREATE UNIQUE INDEX events_by_seq ON events (org_id, seq);
CREATE INDEX events_by_subject ON events (org_id, subject_type, subject_id, seq);
