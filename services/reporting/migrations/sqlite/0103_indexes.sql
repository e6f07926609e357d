-- Indexes found by the city-overview benchmark (issue 5, services/reporting/benches).
--
-- On PostgreSQL the volunteer_units view needs an index on volunteer_memberships'
-- volunteer ids under COLLATE "C" (see postgres/0103_indexes.sql). SQLite compares them
-- with one collation, so volunteer_memberships_by_volunteer already serves the view; no
-- index measured here helped the overview by more than a few percent (its time goes into
-- materializing the view), so none is added. This migration keeps the numbering of both
-- engines aligned.
SELECT 1;
