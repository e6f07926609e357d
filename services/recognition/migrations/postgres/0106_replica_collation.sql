-- The replica's columns that refer to volunteers and units had the database's default
-- collation while the ids they join to have "C": a join condition then compares in "C",
-- which an index in the default collation cannot serve, so every check that a volunteer
-- serves in a subtree (egret_storage::replica::serves_in) read all memberships: more than
-- a second a call at 100,000 volunteers. Equality is the same in both collations, so the
-- values stay as they are.

-- Dropped first, so that changing the columns does not rebuild it.
DROP INDEX volunteer_memberships_by_volunteer;

ALTER TABLE volunteer_memberships
    ALTER COLUMN volunteer_id TYPE TEXT COLLATE "C",
    ALTER COLUMN org_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE volunteers ALTER COLUMN registering_org_unit_id TYPE TEXT COLLATE "C";

CREATE INDEX volunteer_memberships_by_volunteer ON volunteer_memberships (volunteer_id);
