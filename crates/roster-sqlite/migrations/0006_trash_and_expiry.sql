-- Trash: a deleted group keeps its row (and its logo) for the retention period, with
-- deleted_at set; its membership rows go, remembered in trashed_people (JSON) so that a
-- restore knows whom to bring back. Every live read says `deleted_at IS NULL`, and the
-- indexes live reads use hold live groups only: a trashed name is free again, and
-- trash costs a live listing nothing.
ALTER TABLE groups ADD COLUMN deleted_at INTEGER;
ALTER TABLE groups ADD COLUMN trashed_people TEXT;
DROP INDEX groups_name_per_org;
CREATE UNIQUE INDEX groups_name_per_org ON groups (org_id, name_key) WHERE deleted_at IS NULL;
DROP INDEX groups_by_created;
CREATE INDEX groups_by_created ON groups (org_id, created_at, id) WHERE deleted_at IS NULL;
DROP INDEX groups_by_updated;
CREATE INDEX groups_by_updated ON groups (org_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX groups_in_trash ON groups (org_id, deleted_at) WHERE deleted_at IS NOT NULL;

-- Memberships that end on time. next_expiry is the earliest expires_at among the
-- group's memberships (NULL: none ends), rewritten with every membership change: reads
-- of a group whose next_expiry has not come trust its counts as they are, and the
-- sweeper finds due groups through its index.
ALTER TABLE group_members ADD COLUMN expires_at INTEGER;
ALTER TABLE group_guests ADD COLUMN expires_at INTEGER;
ALTER TABLE groups ADD COLUMN next_expiry INTEGER;
CREATE INDEX group_members_expiring ON group_members (group_pk, expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX group_guests_expiring ON group_guests (group_pk, expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX groups_expiring ON groups (next_expiry) WHERE next_expiry IS NOT NULL;
CREATE INDEX groups_expiring_per_org ON groups (org_id, next_expiry)
    WHERE next_expiry IS NOT NULL;
