-- District instances enrolled to sync upward to this one. Only the digest of each
-- credential is kept; one active enrollment per unit.
CREATE TABLE enrollments (
    instance_id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    org_unit_path TEXT NOT NULL,
    display_name TEXT NOT NULL,
    credential_digest TEXT NOT NULL,
    state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoke_time BIGINT NOT NULL DEFAULT 0,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE UNIQUE INDEX enrollments_one_active_per_unit ON enrollments (org_unit_id)
    WHERE state = 'active';
