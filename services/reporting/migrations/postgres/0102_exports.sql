-- What the exports print besides what the statistics count: volunteers' masked identity,
-- each service record's volunteer, minutes, state and content, activity titles, and the
-- registration forms (登记表) the registry's change log carries, contacts masked.
--
-- Rows applied before this migration lack the new columns, so the registry's and the
-- activity service's logs are followed again from the start, once: every apply is an
-- upsert guarded by version (lowered here so that entries already seen apply again) and
-- the hours rollup moves by differences, so the replay ends where it began, with the new
-- columns filled. On a new database these statements change nothing.

ALTER TABLE volunteers ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE volunteers ADD COLUMN volunteer_number TEXT NOT NULL DEFAULT '';
ALTER TABLE volunteers ADD COLUMN id_type TEXT NOT NULL DEFAULT '';
ALTER TABLE volunteers ADD COLUMN id_number_masked TEXT NOT NULL DEFAULT '';

ALTER TABLE service_records ADD COLUMN volunteer_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE service_records ADD COLUMN activity_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE service_records ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE service_records ADD COLUMN minutes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE service_records ADD COLUMN state TEXT NOT NULL DEFAULT '';

CREATE INDEX service_records_by_volunteer ON service_records (volunteer_id);

ALTER TABLE activities ADD COLUMN display_name TEXT NOT NULL DEFAULT '';

CREATE TABLE registration_forms (
    org_unit_id TEXT COLLATE "C" PRIMARY KEY,
    archive_number TEXT NOT NULL,
    team_number TEXT NOT NULL,
    leader_name TEXT NOT NULL,
    host_unit TEXT NOT NULL,
    declared_member_count BIGINT NOT NULL,
    founded_on TEXT NOT NULL,
    phone_masked TEXT NOT NULL,
    email_masked TEXT NOT NULL,
    address TEXT NOT NULL,
    version BIGINT NOT NULL
);

UPDATE volunteers SET version = -1;
UPDATE service_records SET version = -1;
UPDATE activities SET version = -1;
UPDATE feed_checkpoints SET last_sequence = 0 WHERE feed IN ('registry', 'activity');
