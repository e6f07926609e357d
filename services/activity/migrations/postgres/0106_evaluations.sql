CREATE TABLE evaluations (
    id TEXT COLLATE "C" PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    evaluator_kind INTEGER NOT NULL,
    -- '' for a beneficiary's evaluation.
    volunteer_id TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- A volunteer rates an activity once.
CREATE UNIQUE INDEX evaluations_once ON evaluations (activity_id, volunteer_id) WHERE volunteer_id <> '';
CREATE INDEX evaluations_by_activity ON evaluations (activity_id);
