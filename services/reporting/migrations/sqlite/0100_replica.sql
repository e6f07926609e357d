-- The reporting service's replica of what it counts, kept from the registry's, the
-- activity service's and the recognition service's change logs (no service reads another's
-- database), and its rollups. Dates are YYYY-MM-DD text (China time); enumerations are
-- wire numbers.

CREATE TABLE feed_checkpoints (
    feed TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL
);

INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('registry', 0);
INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('activity', 0);
INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('recognition', 0);

CREATE TABLE org_units (
    id TEXT PRIMARY KEY,
    parent_id TEXT,
    path TEXT NOT NULL,
    tier INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    status INTEGER NOT NULL,
    level INTEGER NOT NULL DEFAULT 0,
    version BIGINT NOT NULL
);

CREATE INDEX org_units_by_path ON org_units (path);

CREATE TABLE org_unit_categories (
    org_unit_id TEXT NOT NULL,
    category INTEGER NOT NULL,
    PRIMARY KEY (org_unit_id, category)
);

CREATE TABLE volunteers (
    id TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    registering_org_unit_id TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    gender INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE volunteer_memberships (
    id TEXT PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    active INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX volunteer_memberships_by_volunteer ON volunteer_memberships (volunteer_id);
CREATE INDEX volunteer_memberships_by_unit ON volunteer_memberships (org_unit_id);
CREATE INDEX volunteers_by_registering_unit ON volunteers (registering_org_unit_id);

-- Where each volunteer serves: every unit of an active membership, and the registering
-- unit (the registry's own rule).
CREATE VIEW volunteer_units AS
    SELECT volunteer_id, org_unit_id FROM volunteer_memberships WHERE active = 1
    UNION
    SELECT id AS volunteer_id, registering_org_unit_id AS org_unit_id FROM volunteers;

CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    state TEXT NOT NULL,
    start_date TEXT NOT NULL,
    service_theme INTEGER NOT NULL,
    service_field INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX activities_by_unit ON activities (org_unit_id, start_date);

CREATE TABLE activity_target_groups (
    activity_id TEXT NOT NULL,
    target_group INTEGER NOT NULL,
    PRIMARY KEY (activity_id, target_group)
);

CREATE TABLE service_records (
    id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    service_date TEXT NOT NULL,
    approved_minutes BIGINT NOT NULL,
    version BIGINT NOT NULL
);

-- The rollup of approved service per unit and day: what every hours figure reads. Kept by
-- adding each record's change (new minus old), so corrections and late records for past
-- days land where they belong.
CREATE TABLE hours_daily (
    org_unit_id TEXT NOT NULL,
    service_date TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    records BIGINT NOT NULL,
    PRIMARY KEY (org_unit_id, service_date)
);

CREATE TABLE qualifications (
    id TEXT PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    granted_date TEXT NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE insurance_policies (
    id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    covers_subtree INTEGER NOT NULL,
    active INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE policy_volunteers (
    policy_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    PRIMARY KEY (policy_id, volunteer_id)
);

CREATE INDEX policy_volunteers_by_volunteer ON policy_volunteers (volunteer_id);

CREATE TABLE star_ratings (
    id TEXT PRIMARY KEY,
    nominating_org_unit_id TEXT NOT NULL,
    stars INTEGER NOT NULL,
    awarded INTEGER NOT NULL,
    award_date TEXT NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE commendations (
    id TEXT PRIMARY KEY,
    nominating_org_unit_id TEXT NOT NULL,
    awarded INTEGER NOT NULL,
    award_date TEXT NOT NULL,
    version BIGINT NOT NULL
);
