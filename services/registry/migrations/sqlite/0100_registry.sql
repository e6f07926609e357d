-- The registry's tables. Times are microseconds since the epoch; enumerations are the
-- wire enum numbers of egret.registry.v1; lists are JSON arrays.

CREATE TABLE org_units (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES org_units (id),
    -- '/root-id/…/own-id/': a subtree is a range of paths, so it is found by index.
    path TEXT NOT NULL UNIQUE,
    tier INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    level INTEGER NOT NULL,
    categories_json TEXT NOT NULL,
    service_fields_json TEXT NOT NULL,
    service_themes_json TEXT NOT NULL,
    status INTEGER NOT NULL,
    merged_into TEXT REFERENCES org_units (id),
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX org_units_by_parent ON org_units (parent_id);

-- One root per instance, even when two processes start on an empty database at once.
CREATE UNIQUE INDEX org_units_one_root ON org_units (tier) WHERE parent_id IS NULL;

CREATE TABLE registration_forms (
    org_unit_id TEXT PRIMARY KEY REFERENCES org_units (id),
    archive_number TEXT NOT NULL UNIQUE,
    team_number TEXT NOT NULL UNIQUE,
    leader_name TEXT NOT NULL,
    host_unit TEXT NOT NULL,
    declared_member_count BIGINT NOT NULL,
    founded_on TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    key_members_json TEXT NOT NULL,
    service_features TEXT NOT NULL,
    awards TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- Counters behind the numbering schemes, one per rendered prefix (so a scheme with
-- {year} restarts every year).
CREATE TABLE number_counters (
    prefix TEXT PRIMARY KEY,
    last_value BIGINT NOT NULL
);

CREATE TABLE volunteers (
    id TEXT PRIMARY KEY,
    volunteer_number TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    id_type INTEGER NOT NULL,
    -- Keyed hash (HMAC) of the normalized number: one person registers once.
    id_number_hash TEXT NOT NULL UNIQUE,
    id_number_encrypted BLOB NOT NULL,
    id_number_masked TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    gender INTEGER NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    skills_json TEXT NOT NULL,
    service_fields_json TEXT NOT NULL,
    service_themes_json TEXT NOT NULL,
    availability_json TEXT NOT NULL,
    emergency_name TEXT NOT NULL,
    emergency_relationship TEXT NOT NULL,
    emergency_phone TEXT NOT NULL,
    status INTEGER NOT NULL,
    registering_org_unit_id TEXT NOT NULL REFERENCES org_units (id),
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX volunteers_by_registering_unit ON volunteers (registering_org_unit_id);

CREATE TABLE memberships (
    id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL REFERENCES org_units (id),
    volunteer_id TEXT NOT NULL REFERENCES volunteers (id),
    is_primary INTEGER NOT NULL,
    state INTEGER NOT NULL,
    joined_on TEXT NOT NULL,
    ended_on TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- At most one active membership per volunteer and unit, and one active primary each.
CREATE UNIQUE INDEX memberships_active_once ON memberships (volunteer_id, org_unit_id) WHERE state = 1;
CREATE UNIQUE INDEX memberships_one_primary ON memberships (volunteer_id) WHERE state = 1 AND is_primary = 1;
CREATE INDEX memberships_by_unit ON memberships (org_unit_id, state);

CREATE TABLE join_applications (
    id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL REFERENCES org_units (id),
    volunteer_id TEXT NOT NULL REFERENCES volunteers (id),
    message TEXT NOT NULL,
    state INTEGER NOT NULL,
    decided_by TEXT NOT NULL,
    decision_comment TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE UNIQUE INDEX join_applications_one_pending ON join_applications (volunteer_id, org_unit_id) WHERE state = 1;
CREATE INDEX join_applications_by_unit ON join_applications (org_unit_id, state);

-- Unmasked reads of personal data (DESIGN.md §7).
CREATE TABLE audit_entries (
    id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    actor_org_unit_id TEXT NOT NULL,
    actor_org_path TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    fields_json TEXT NOT NULL,
    method TEXT NOT NULL,
    read_time BIGINT NOT NULL
);

CREATE INDEX audit_entries_by_path ON audit_entries (actor_org_path);
