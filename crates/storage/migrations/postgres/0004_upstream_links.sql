-- What an upstream knows of each district's link beyond its checkpoint: the district's
-- head at its last heartbeat (every push is one), when the checkpoint last moved forward, and
-- why the last batch was refused, if it was.
ALTER TABLE upstream_checkpoints ADD COLUMN head_sequence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE upstream_checkpoints ADD COLUMN heartbeat_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE upstream_checkpoints ADD COLUMN applied_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE upstream_checkpoints ADD COLUMN refusal TEXT NOT NULL DEFAULT '';
ALTER TABLE upstream_checkpoints ADD COLUMN refusal_time BIGINT NOT NULL DEFAULT 0;
