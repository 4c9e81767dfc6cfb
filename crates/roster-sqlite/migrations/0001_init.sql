-- Roster's schema on SQLite. Timestamps are milliseconds since the Unix epoch (UTC).
-- Every table that holds tenant data carries org_id, and every lookup starts from it.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    allow_non_admins_manage_groups INTEGER NOT NULL DEFAULT 0,
    -- The first admin, who can never be removed, disabled or demoted.
    default_admin_id INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Accounts are global; their standing in each org lives in org_members.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    -- "first last", case-folded in Rust: what `q` and name order compare.
    name_key TEXT NOT NULL,
    timezone TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE org_members (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'standard', 'light')),
    status TEXT NOT NULL CHECK (status IN ('active', 'invited', 'disabled')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;

CREATE INDEX org_members_by_user ON org_members (user_id);

CREATE TABLE guests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- The optional contact fields, as a JSON object (people::GuestDetails).
    details TEXT NOT NULL DEFAULT '{}',
    -- A JSON array of user ids, or NULL until set.
    associated_members TEXT,
    disabled_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (org_id, email)
);

CREATE INDEX guests_by_created ON guests (org_id, created_at, id);

-- name_key and description_key are the Unicode-lowercased texts (computed in Rust, so
-- every backend lowercases alike): uniqueness, name order and `q` compare them.
CREATE TABLE groups (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL,
    description_key TEXT NOT NULL,
    -- Exact counts, changed in the same statement batch as the membership rows.
    member_count INTEGER NOT NULL DEFAULT 0,
    guest_count INTEGER NOT NULL DEFAULT 0,
    -- Goes up with every change to the group; served as its ETag.
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE UNIQUE INDEX groups_name_per_org ON groups (org_id, name_key);
CREATE INDEX groups_by_created ON groups (org_id, created_at, id);
CREATE INDEX groups_by_updated ON groups (org_id, updated_at, id);

-- Membership rows reference the org-scoped member and guest rows, so a person who
-- leaves the org cannot linger in its groups.
CREATE TABLE group_members (
    group_pk INTEGER NOT NULL REFERENCES groups (pk) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (group_pk, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX group_members_by_member ON group_members (org_id, user_id);

CREATE TABLE group_guests (
    group_pk INTEGER NOT NULL REFERENCES groups (pk) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (group_pk, email),
    FOREIGN KEY (org_id, email) REFERENCES guests (org_id, email) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX group_guests_by_guest ON group_guests (org_id, email);

-- Personal access tokens, known only by the SHA-256 of the secret.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash BLOB NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
);

CREATE INDEX tokens_by_org_user ON tokens (org_id, user_id);

-- Idempotency-Key on group creation: a repeat within 24 hours answers with the first
-- request's group; the fingerprint tells a repeat from a different request.
CREATE TABLE idempotency_keys (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    group_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) WITHOUT ROWID;
