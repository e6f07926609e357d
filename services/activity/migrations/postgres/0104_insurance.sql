CREATE TABLE insurance_policies (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    insurer TEXT NOT NULL,
    policy_number TEXT NOT NULL,
    cover TEXT NOT NULL,
    sum_insured_fen BIGINT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    covers_subtree INTEGER NOT NULL,
    state INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE UNIQUE INDEX insurance_policies_number ON insurance_policies (insurer, policy_number);
CREATE INDEX insurance_policies_by_unit ON insurance_policies (org_unit_id);
CREATE INDEX insurance_policies_by_end ON insurance_policies (state, end_date);

-- The volunteers a policy names.
CREATE TABLE insured_volunteers (
    policy_id TEXT NOT NULL REFERENCES insurance_policies (id),
    volunteer_id TEXT NOT NULL,
    PRIMARY KEY (policy_id, volunteer_id)
);

CREATE INDEX insured_volunteers_by_volunteer ON insured_volunteers (volunteer_id);
