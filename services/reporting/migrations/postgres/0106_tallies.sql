-- Tallies: every statistic the dashboard reads, kept up to date by the feeds in the
-- transaction that applies each change, so a figure reads rows of its subtree's root
-- rather than every record beneath it. A fact counts once in each unit above it (its own
-- included); dated facts are kept per day and per month. The rules are in the service's
-- domain::tallies; fact and grain are its closed numbering.
CREATE TABLE tallies (
    subtree_id TEXT COLLATE "C" NOT NULL,
    fact BIGINT NOT NULL,
    grain BIGINT NOT NULL,
    period TEXT COLLATE "C" NOT NULL,
    bucket TEXT COLLATE "C" NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (subtree_id, fact, grain, period, bucket)
);

-- 0 until the tallies have been counted from the replica (the service counts them when it
-- opens a database that predates them).
CREATE TABLE tally_state (
    counted BIGINT NOT NULL
);

INSERT INTO tally_state (counted) VALUES (0);

-- Volunteers by age band count one by one those registered after the figure's day and
-- those born in a month where a band begins on it.
CREATE INDEX volunteers_by_registration ON volunteers (registered_on);
CREATE INDEX volunteers_by_birth ON volunteers (birth_date);
