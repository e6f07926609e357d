-- Accounts sort by username and name (`order_by`) by code point on every instance,
-- whatever the database's locale, as on SQLite: the columns take the "C" collation
-- (equality is the same in every collation, so the unique username stays unique).
DROP INDEX accounts_by_path;
ALTER TABLE accounts
    ALTER COLUMN username TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C";
CREATE INDEX accounts_by_path ON accounts (org_unit_path, username);
