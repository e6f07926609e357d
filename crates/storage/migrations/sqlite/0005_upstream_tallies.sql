-- The last tally of a district's records compared at an upstream: the district's sequence
-- it was taken at, when, and how the copies held here disagreed (empty when they agreed).
ALTER TABLE upstream_checkpoints ADD COLUMN tally_sequence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE upstream_checkpoints ADD COLUMN tally_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE upstream_checkpoints ADD COLUMN verified_sequence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE upstream_checkpoints ADD COLUMN mismatch TEXT NOT NULL DEFAULT '';
