-- The gateway's tables: people's accounts, their refresh tokens and the audit log of
-- sign-ins and account changes. Times are microseconds since the epoch; states are the
-- wire enum numbers of egret.gateway.v1; roles are a JSON array of role names.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    -- '/root-id/…/own-id/', as the registry's: a subtree's accounts are a range of paths.
    org_unit_path TEXT NOT NULL,
    roles_json TEXT NOT NULL,
    volunteer_id TEXT,
    state INTEGER NOT NULL,
    -- argon2id, in the PHC string format (algorithm, parameters, salt and hash).
    password_hash TEXT NOT NULL,
    password_change_required INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX accounts_by_path ON accounts (org_unit_path, username);

-- Refresh tokens are kept as SHA-256 digests. A sign-in is a family: each refresh spends
-- one token and issues the next; a spent token presented again revokes the family.
CREATE TABLE refresh_tokens (
    digest TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    expire_time BIGINT NOT NULL,
    spent INTEGER NOT NULL,
    revoked INTEGER NOT NULL,
    create_time BIGINT NOT NULL
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_account ON refresh_tokens (account_id);

CREATE TABLE audit_entries (
    id TEXT PRIMARY KEY,
    account_id TEXT,
    username TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    event_time BIGINT NOT NULL
);

CREATE INDEX audit_entries_by_account ON audit_entries (account_id, event_time);
