-- The annual-report workflow (年报): reporting years and the teams' reports.

CREATE TABLE reporting_years (
    year INTEGER PRIMARY KEY,
    deadline TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE annual_reports (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT COLLATE "C" NOT NULL,
    year INTEGER NOT NULL,
    state INTEGER NOT NULL,
    members BIGINT NOT NULL,
    activities BIGINT NOT NULL,
    approved_minutes BIGINT NOT NULL,
    service_records BIGINT NOT NULL,
    star_ratings BIGINT NOT NULL,
    commendations BIGINT NOT NULL,
    service_features TEXT NOT NULL,
    highlights TEXT NOT NULL,
    plans TEXT NOT NULL,
    review_comment TEXT NOT NULL,
    reviewed_by TEXT NOT NULL,
    submit_time BIGINT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE UNIQUE INDEX annual_reports_by_team ON annual_reports (org_unit_id, year);
CREATE INDEX annual_reports_by_year ON annual_reports (year, state);
