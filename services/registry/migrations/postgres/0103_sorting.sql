-- Lists sort by name, number and time (`order_by`). Text sorts by code point on every
-- instance, whatever the database's locale, as it does on SQLite: the columns a list sorts
-- by take the "C" collation (equality is the same in every collation, so values and
-- constraints stay as they are). A large subtree's sorted listing walks an index in the
-- list's order and stops after a page; ties are ordered by id, so the index ends in it.
ALTER TABLE volunteers
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN volunteer_number TYPE TEXT COLLATE "C";
ALTER TABLE org_units ALTER COLUMN display_name TYPE TEXT COLLATE "C";

CREATE INDEX volunteers_by_name ON volunteers (display_name, id);
CREATE INDEX volunteers_by_create_time ON volunteers (create_time, id);
