-- The activity service's tables. Times are microseconds since the epoch; enumerations
-- are the wire enum numbers of egret.activity.v1 and egret.common.v1; lists are JSON.
-- Ids and paths use the C collation so that range scans and keyset pages order bytes
-- exactly as SQLite does, whatever the database's locale.

-- A replica of the registry's org tree, kept from the registry's change log (the activity
-- service reads no other service's database). It answers "is this unit in the caller's
-- subtree" without a call per request.
CREATE TABLE org_units (
    id TEXT COLLATE "C" PRIMARY KEY,
    parent_id TEXT,
    path TEXT COLLATE "C" NOT NULL,
    tier INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    status INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX org_units_by_path ON org_units (path);

-- How far each feed this service follows has been applied; written in the same commit as
-- what it applied.
CREATE TABLE feed_checkpoints (
    feed TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL
);

INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('registry', 0);

CREATE TABLE projects (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    service_themes_json TEXT NOT NULL,
    service_fields_json TEXT NOT NULL,
    target_groups_json TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    funding_source INTEGER NOT NULL,
    budget_fen BIGINT NOT NULL,
    partner_json TEXT NOT NULL,
    status INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX projects_by_unit ON projects (org_unit_id);
