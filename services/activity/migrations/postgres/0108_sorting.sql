-- Activities and projects sort by name (`order_by`) by code point on every instance,
-- whatever the database's locale, as on SQLite: the columns take the "C" collation
-- (equality is the same in every collation). Subtrees' activities are found by unit and
-- sorted in memory, a page at a time, so no index is added for the order.
ALTER TABLE activities ALTER COLUMN display_name TYPE TEXT COLLATE "C";
ALTER TABLE projects ALTER COLUMN display_name TYPE TEXT COLLATE "C";
