-- The alliance's targets, per unit, year and team level.

CREATE TABLE targets (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_unit_id TEXT COLLATE "C" NOT NULL,
    year INTEGER NOT NULL,
    team_level INTEGER NOT NULL,
    teams BIGINT NOT NULL,
    volunteers BIGINT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE UNIQUE INDEX targets_by_unit ON targets (org_unit_id, year, team_level);
