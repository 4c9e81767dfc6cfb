-- The seq of each org's last event that can change a caller's principal (a member, a
-- token, the org's settings; see `EventType::changes_callers`). Principals are kept while
-- it stays put, so a group write no longer makes every caller of the org be read again.
-- Existing orgs start at their head: as if their last event were such a change.
ALTER TABLE organizations ADD COLUMN callers_seq BIGINT NOT NULL DEFAULT 0;
UPDATE organizations SET callers_seq = event_seq;
