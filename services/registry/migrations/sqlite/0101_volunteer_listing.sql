-- A small subtree's volunteers are listed from its units (store::volunteers::list): its
-- paths by the unique index on org_units (path), then each unit's active members and its
-- registered volunteers. With the volunteer ids in the indexes, both lookups read the index
-- alone. Each replaces an index it extends, which served only its leading columns.

DROP INDEX memberships_by_unit;
CREATE INDEX memberships_by_unit ON memberships (org_unit_id, state, volunteer_id);

DROP INDEX volunteers_by_registering_unit;
CREATE INDEX volunteers_by_registering_unit ON volunteers (registering_org_unit_id, id);
