-- Trash and memberships that end on time; see the SQLite migration of the same name
-- for the reasoning, which is the same here.
ALTER TABLE groups ADD COLUMN deleted_at BIGINT;
ALTER TABLE groups ADD COLUMN trashed_people TEXT;
DROP INDEX groups_name_per_org;
CREATE UNIQUE INDEX groups_name_per_org ON groups (org_id, name_key) WHERE deleted_at IS NULL;
DROP INDEX groups_by_created;
CREATE INDEX groups_by_created ON groups (org_id, created_at, id) WHERE deleted_at IS NULL;
DROP INDEX groups_by_updated;
CREATE INDEX groups_by_updated ON groups (org_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX groups_in_trash ON groups (org_id, deleted_at) WHERE deleted_at IS NOT NULL;

ALTER TABLE group_members ADD COLUMN expires_at BIGINT;
ALTER TABLE group_guests ADD COLUMN expires_at BIGINT;
ALTER TABLE groups ADD COLUMN next_expiry BIGINT;
CREATE INDEX group_members_expiring ON group_members (group_pk, expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX group_guests_expiring ON group_guests (group_pk, expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX groups_expiring ON groups (next_expiry) WHERE next_expiry IS NOT NULL;
CREATE INDEX groups_expiring_per_org ON groups (org_id, next_expiry)
    WHERE next_expiry IS NOT NULL;
