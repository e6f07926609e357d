-- Commendations (嘉许) and team star ratings, with the replicas they read: projects and
-- beneficiaries' evaluations (activity service) and annual reports (reporting service,
-- once it runs).

CREATE TABLE projects (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE evaluations (
    id TEXT COLLATE "C" PRIMARY KEY,
    activity_id TEXT NOT NULL,
    rating INTEGER NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX evaluations_by_activity ON evaluations (activity_id);

-- Filled from the reporting service's change log (issue 5): which team submitted which
-- year's annual report.
CREATE TABLE annual_reports (
    org_unit_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    submitted INTEGER NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (org_unit_id, year)
);

CREATE TABLE honours (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    category INTEGER NOT NULL,
    level INTEGER NOT NULL,
    recipient_kind INTEGER NOT NULL,
    notice_days INTEGER NOT NULL,
    description TEXT NOT NULL,
    active INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE commendations (
    id TEXT COLLATE "C" PRIMARY KEY,
    honour_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_display_name TEXT NOT NULL,
    year INTEGER NOT NULL,
    citation TEXT NOT NULL,
    nominating_org_unit_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    notice_start_date TEXT NOT NULL,
    notice_end_date TEXT NOT NULL,
    objections_json TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decision_comment TEXT NOT NULL,
    award_time BIGINT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX commendations_by_recipient ON commendations (recipient);
-- One live commendation per honour, recipient and year (1 nominated, 2 on notice,
-- 3 awarded).
CREATE UNIQUE INDEX commendations_live ON commendations (honour_id, recipient, year) WHERE state IN (1, 2, 3);

CREATE TABLE team_star_ratings (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    stars INTEGER NOT NULL,
    rule_set_id TEXT NOT NULL,
    rule_set_revision BIGINT NOT NULL,
    levels_json TEXT NOT NULL,
    rated_by TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE UNIQUE INDEX team_star_ratings_by_team ON team_star_ratings (org_unit_id, year);
