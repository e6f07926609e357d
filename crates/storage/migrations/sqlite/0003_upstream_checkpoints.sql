-- At an upstream (the city): how far each district's change log of this service has been
-- applied. Moved in the same transaction as the rows a batch applies.
CREATE TABLE upstream_checkpoints (
    origin_instance TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
