CREATE TABLE courses (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    description TEXT NOT NULL,
    qualification TEXT NOT NULL,
    qualification_valid_days INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX courses_by_unit ON courses (org_unit_id);

CREATE TABLE training_sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    course_id TEXT NOT NULL REFERENCES courses (id),
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    location TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE qualifications (
    id TEXT COLLATE "C" PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    qualification TEXT NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses (id),
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    granted_date TEXT NOT NULL,
    -- '' when it does not expire.
    expire_date TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- A session grants its qualification once per volunteer.
CREATE UNIQUE INDEX qualifications_once ON qualifications (session_id, volunteer_id);
CREATE INDEX qualifications_by_volunteer ON qualifications (volunteer_id, qualification);
