-- Indexes found by the city-overview benchmark (issue 5, services/reporting/benches).
--
-- The volunteer_units view compares volunteer ids under COLLATE "C", like every id column
-- of this schema, but volunteer_memberships.volunteer_id was created with the database's
-- default collation, so volunteer_memberships_by_volunteer cannot serve the view's lookups
-- by volunteer. The insured-volunteers figure looks a volunteer's units up through the view
-- once per volunteer, and each lookup became a sequential scan of every membership: at the
-- alliance's scale (100,000 volunteers, 115,000 memberships) the city overview did not
-- finish in ten minutes. With this index each lookup is an index scan.
CREATE INDEX volunteer_memberships_by_volunteer_c
    ON volunteer_memberships (volunteer_id COLLATE "C");
