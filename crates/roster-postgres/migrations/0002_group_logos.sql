-- Group logos, stored in the database itself so that a backup is a backup of everything.
-- The group row carries the current logo's description; the bytes live apart, so that
-- reading groups never drags images along.
ALTER TABLE groups ADD COLUMN logo_asset_id TEXT;
ALTER TABLE groups ADD COLUMN logo_filename TEXT;
ALTER TABLE groups ADD COLUMN logo_content_type TEXT;
-- Counts uploads to the group, across deletions.
ALTER TABLE groups ADD COLUMN logo_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN logo_uploaded_at BIGINT;
ALTER TABLE groups ADD COLUMN logo_uploaded_from TEXT;

CREATE TABLE logo_blobs (
    asset_id TEXT COLLATE "C" PRIMARY KEY,
    group_pk BIGINT NOT NULL REFERENCES groups (pk) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL
);

CREATE INDEX logo_blobs_by_group ON logo_blobs (group_pk);
