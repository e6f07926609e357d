-- The recognition service's replica of what it reads from other services: the registry's
-- org tree, volunteers and memberships, and the activity service's activities and service
-- records, kept from their change logs (no service reads another's database). Times are
-- microseconds since the epoch; dates are YYYY-MM-DD text.

CREATE TABLE feed_checkpoints (
    feed TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL
);

INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('registry', 0);
INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('activity', 0);

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

CREATE TABLE volunteers (
    id TEXT COLLATE "C" PRIMARY KEY,
    volunteer_number TEXT NOT NULL,
    display_name TEXT NOT NULL,
    id_type TEXT NOT NULL,
    id_number_masked TEXT NOT NULL,
    status INTEGER NOT NULL,
    registering_org_unit_id TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE volunteer_memberships (
    id TEXT COLLATE "C" PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    active INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX volunteer_memberships_by_volunteer ON volunteer_memberships (volunteer_id);

CREATE TABLE activities (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    state TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    version BIGINT NOT NULL
);

-- approved_minutes is the record's minutes while it is approved and 0 otherwise: what
-- stars, points and certificates count.
CREATE TABLE service_records (
    id TEXT COLLATE "C" PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    description TEXT NOT NULL,
    service_date TEXT NOT NULL,
    approved_minutes BIGINT NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX service_records_by_volunteer ON service_records (volunteer_id, service_date);
CREATE INDEX service_records_by_activity ON service_records (activity_id);
