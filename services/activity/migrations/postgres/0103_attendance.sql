CREATE TABLE attendances (
    id TEXT COLLATE "C" PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    volunteer_id TEXT NOT NULL,
    check_in_time BIGINT NOT NULL,
    -- 0 while checked in.
    check_out_time BIGINT NOT NULL,
    check_in_method INTEGER NOT NULL,
    fence_result INTEGER NOT NULL,
    needs_review INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- At most one open attendance per volunteer and activity.
CREATE UNIQUE INDEX attendances_one_open ON attendances (activity_id, volunteer_id) WHERE check_out_time = 0;
CREATE INDEX attendances_by_volunteer ON attendances (volunteer_id, check_in_time);

CREATE TABLE service_records (
    id TEXT COLLATE "C" PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    -- '' for a record imported from an earlier system without an activity here.
    activity_id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    -- 1 from attendance, 2 back-entry (补录), 3 imported.
    kind INTEGER NOT NULL,
    -- 服务内容, for back-entries and imports.
    description TEXT NOT NULL,
    -- Why a back-entry or the last correction was made.
    reason TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    service_date TEXT NOT NULL,
    state INTEGER NOT NULL,
    needs_review INTEGER NOT NULL,
    reviewed_by TEXT NOT NULL,
    review_comment TEXT NOT NULL,
    platform_report_status INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- One record per volunteer and activity.
CREATE UNIQUE INDEX service_records_once ON service_records (activity_id, volunteer_id) WHERE activity_id <> '';
CREATE INDEX service_records_by_volunteer ON service_records (volunteer_id, state, service_date);
CREATE INDEX service_records_by_unit ON service_records (org_unit_id);
