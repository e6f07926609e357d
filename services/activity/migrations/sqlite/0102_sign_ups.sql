-- Volunteers as replicated from the registry's change log: what recruitment checks.
CREATE TABLE volunteers (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    status INTEGER NOT NULL,
    registering_org_unit_id TEXT NOT NULL,
    version BIGINT NOT NULL
);

-- Volunteers' memberships as replicated from the registry: which units a volunteer serves
-- in, so that an organizer acts only for volunteers of its own subtree.
CREATE TABLE volunteer_memberships (
    id TEXT PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    active INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX volunteer_memberships_by_volunteer ON volunteer_memberships (volunteer_id, active);

CREATE TABLE sign_ups (
    id TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    volunteer_id TEXT NOT NULL,
    position_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    decided_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- One live sign-up (pending, waitlisted or approved) per volunteer and activity.
CREATE UNIQUE INDEX sign_ups_live_once ON sign_ups (activity_id, volunteer_id) WHERE state IN (1, 2, 3);
CREATE INDEX sign_ups_by_activity ON sign_ups (activity_id, position_id, state);
CREATE INDEX sign_ups_by_volunteer ON sign_ups (volunteer_id, state);
