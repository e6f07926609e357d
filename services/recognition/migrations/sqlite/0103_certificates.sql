-- Service certificates (志愿服务证明): what was printed and signed, the service records
-- each covers (so that a correction of one of them revokes it), and one serial counter per
-- prefix (`XM-2026`), incremented in the issuing transaction so that serial numbers are
-- unique and without gaps within a year.

CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    serial_number TEXT NOT NULL UNIQUE,
    volunteer_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    issuer_org_unit_id TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    service_minutes BIGINT NOT NULL,
    state INTEGER NOT NULL,
    revocation_reason TEXT NOT NULL,
    revoke_time BIGINT NOT NULL,
    signed_payload TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL,
    volunteer_display_name TEXT NOT NULL,
    id_type TEXT NOT NULL,
    id_number_masked TEXT NOT NULL,
    volunteer_number TEXT NOT NULL,
    activity_display_name TEXT NOT NULL,
    service_content TEXT NOT NULL,
    issuer_display_name TEXT NOT NULL,
    person_in_charge TEXT NOT NULL,
    handler TEXT NOT NULL,
    handler_contact TEXT NOT NULL,
    issue_date TEXT NOT NULL,
    notes TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX certificates_by_volunteer ON certificates (volunteer_id, create_time);
CREATE INDEX certificates_by_issuer ON certificates (issuer_org_unit_id, create_time);
CREATE INDEX certificates_by_time ON certificates (create_time, id);

CREATE TABLE certificate_records (
    certificate_id TEXT NOT NULL,
    service_record_id TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    PRIMARY KEY (certificate_id, service_record_id)
);

CREATE INDEX certificate_records_by_record ON certificate_records (service_record_id);

CREATE TABLE certificate_serials (
    prefix TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);
