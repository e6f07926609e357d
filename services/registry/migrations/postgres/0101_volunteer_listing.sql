-- A small subtree's volunteers are listed from its units (store::volunteers::list): its
-- paths by the unique index on org_units (path), which has the column's C collation, so
-- the range [low, high) is an index scan; then each unit's active members and its
-- registered volunteers. With the volunteer ids in the indexes, both lookups read the index
-- alone. Each replaces an index it extends, which served only its leading columns.
--
-- The columns that refer to units and volunteers had the database's default collation
-- while the ids they join to have "C": a join condition then compares in "C", which an
-- index in the default collation cannot serve, so every membership lookup by volunteer
-- (the visibility check, the id-ordered listing) or by unit read the whole table. Equality
-- is the same in both collations, so the values and constraints stay as they are.

-- Dropped first, so that changing the columns does not rebuild them.
DROP INDEX memberships_by_unit;
DROP INDEX volunteers_by_registering_unit;

ALTER TABLE memberships
    ALTER COLUMN org_unit_id TYPE TEXT COLLATE "C",
    ALTER COLUMN volunteer_id TYPE TEXT COLLATE "C";
ALTER TABLE volunteers ALTER COLUMN registering_org_unit_id TYPE TEXT COLLATE "C";

CREATE INDEX memberships_by_unit ON memberships (org_unit_id, state, volunteer_id);
CREATE INDEX volunteers_by_registering_unit ON volunteers (registering_org_unit_id, id);
