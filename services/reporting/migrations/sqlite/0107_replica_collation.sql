-- PostgreSQL's replica columns that refer to volunteers and units move to the "C"
-- collation of the ids they join to (see postgres/ beside this). SQLite compares text in
-- one collation, so there is nothing to change; this keeps both engines' numbering aligned.
SELECT 1;
