-- Lists sort by name, number and time (`order_by`); SQLite compares text by code point.
-- A large subtree's sorted listing walks an index in the list's order and stops after a
-- page; ties are ordered by id, so the index ends in it.
CREATE INDEX volunteers_by_name ON volunteers (display_name, id);
CREATE INDEX volunteers_by_create_time ON volunteers (create_time, id);
