-- Roster's schema on PostgreSQL. It mirrors the SQLite schema table for table; where the
-- two must agree on order (names, emails), keys use COLLATE "C": code-point order, the
-- same as SQLite's BINARY, whatever the server's default collation.
-- Timestamps are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT COLLATE "C" NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    name_key TEXT COLLATE "C" NOT NULL,
    timezone TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE organizations (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    allow_non_admins_manage_groups BOOLEAN NOT NULL DEFAULT FALSE,
    default_admin_id BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE org_members (
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'standard', 'light')),
    status TEXT NOT NULL CHECK (status IN ('active', 'invited', 'disabled')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX org_members_by_user ON org_members (user_id);

CREATE TABLE guests (
    id BIGSERIAL PRIMARY KEY,
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT COLLATE "C" NOT NULL,
    first_name TEXT,
    last_name TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    details TEXT NOT NULL DEFAULT '{}',
    associated_members TEXT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, email)
);

CREATE INDEX guests_by_created ON guests (org_id, created_at, id);

CREATE TABLE groups (
    pk BIGSERIAL PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    description_key TEXT COLLATE "C" NOT NULL,
    member_count BIGINT NOT NULL DEFAULT 0,
    guest_count BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX groups_name_per_org ON groups (org_id, name_key);
CREATE INDEX groups_by_created ON groups (org_id, created_at, id);
CREATE INDEX groups_by_updated ON groups (org_id, updated_at, id);

CREATE TABLE group_members (
    group_pk BIGINT NOT NULL REFERENCES groups (pk) ON DELETE CASCADE,
    org_id TEXT COLLATE "C" NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (group_pk, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);

CREATE INDEX group_members_by_member ON group_members (org_id, user_id);

CREATE TABLE group_guests (
    group_pk BIGINT NOT NULL REFERENCES groups (pk) ON DELETE CASCADE,
    org_id TEXT COLLATE "C" NOT NULL,
    email TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_pk, email),
    FOREIGN KEY (org_id, email) REFERENCES guests (org_id, email) ON DELETE CASCADE
);

CREATE INDEX group_guests_by_guest ON group_guests (org_id, email);

CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX tokens_by_org_user ON tokens (org_id, user_id);

CREATE TABLE idempotency_keys (
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    group_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, key)
);
