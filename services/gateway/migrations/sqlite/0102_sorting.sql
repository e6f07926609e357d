-- PostgreSQL's account names move to the "C" collation, so that they sort by code point
-- as SQLite's do (see postgres/ beside this). Nothing to change here; this keeps both
-- engines' numbering aligned.
SELECT 1;
