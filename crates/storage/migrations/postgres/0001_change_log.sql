-- The change log (outbox) every service appends to in the same transaction as its data.
-- `sequence` is handed out by the single row of change_log_head, updated as the last
-- statement of each writing transaction and held until commit, so sequences become
-- visible in order and without gaps.
CREATE TABLE change_log (
    sequence BIGINT PRIMARY KEY,
    resource_type TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    operation TEXT NOT NULL,
    actor TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    change_time BIGINT NOT NULL,
    payload_json TEXT NOT NULL,
    field_changes_json TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);

CREATE INDEX change_log_by_resource ON change_log (resource_name, sequence);

CREATE TABLE change_log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_sequence BIGINT NOT NULL
);

INSERT INTO change_log_head (id, last_sequence) VALUES (1, 0);

-- Request ids of creating RPCs, so that a retried request returns what the first made.
CREATE TABLE idempotency_keys (
    request_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    resource_name TEXT NOT NULL DEFAULT '',
    create_time BIGINT NOT NULL
);
