-- The replica's columns that refer to volunteers and units had the database's default
-- collation while the ids they join to have "C": a join condition then compares in "C",
-- which an index in the default collation cannot serve (the tallies look a volunteer's
-- registering unit up by id on every change). Equality is the same in both collations, so
-- the values stay as they are. The volunteer_units view reads these columns, so it is made
-- again around the change, and the "C" expression index of 0103 becomes the plain one.

DROP VIEW volunteer_units;
DROP INDEX volunteer_memberships_by_volunteer;
DROP INDEX volunteer_memberships_by_volunteer_c;

ALTER TABLE volunteer_memberships ALTER COLUMN volunteer_id TYPE TEXT COLLATE "C";
ALTER TABLE volunteers ALTER COLUMN registering_org_unit_id TYPE TEXT COLLATE "C";

CREATE INDEX volunteer_memberships_by_volunteer ON volunteer_memberships (volunteer_id);

-- Where each volunteer serves: every unit of an active membership, and the registering
-- unit (the registry's own rule).
CREATE VIEW volunteer_units AS
    SELECT volunteer_id, org_unit_id FROM volunteer_memberships WHERE active = 1
    UNION
    SELECT id AS volunteer_id, registering_org_unit_id AS org_unit_id FROM volunteers;
