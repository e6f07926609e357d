-- Star-rating rule sets (every revision kept) and volunteer star ratings.

CREATE TABLE rule_sets (
    id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    built_in INTEGER NOT NULL,
    notes TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (id, revision)
);

CREATE TABLE star_ratings (
    id TEXT COLLATE "C" PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    stars INTEGER NOT NULL,
    period TEXT NOT NULL,
    rule_set_id TEXT NOT NULL,
    rule_set_revision BIGINT NOT NULL,
    nominating_org_unit_id TEXT NOT NULL,
    approving_org_unit_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    evaluation_date TEXT NOT NULL,
    approved_minutes BIGINT NOT NULL,
    registration_date TEXT NOT NULL,
    review_required INTEGER NOT NULL,
    review_reason TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decision_comment TEXT NOT NULL,
    award_time BIGINT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX star_ratings_by_volunteer ON star_ratings (volunteer_id, state);
CREATE INDEX star_ratings_by_quota ON star_ratings (approving_org_unit_id, period, stars, state);
-- One live nomination or award per volunteer, level and period (1 nominated, 2 awarded).
CREATE UNIQUE INDEX star_ratings_live ON star_ratings (volunteer_id, stars, period) WHERE state IN (1, 2);
