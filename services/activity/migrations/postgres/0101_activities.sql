CREATE TABLE activities (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    -- '' for a standalone activity.
    project_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    service_theme INTEGER NOT NULL,
    service_field INTEGER NOT NULL,
    target_groups_json TEXT NOT NULL,
    site_json TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    risk_level INTEGER NOT NULL,
    positions_json TEXT NOT NULL,
    -- Names of the project partner's social workers who lead (社工+志愿者).
    social_worker_leads_json TEXT NOT NULL,
    state INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX activities_by_unit ON activities (org_unit_id);
CREATE INDEX activities_by_project ON activities (project_id);
