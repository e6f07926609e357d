-- Reward points (回馈, time bank): a double-entry ledger. A posting's lines sum to zero;
-- account_balances keeps each account's running totals, updated in the transaction that
-- inserts the posting, so a balance never has to be summed from the lines to be read.

CREATE TABLE postings (
    id TEXT PRIMARY KEY,
    kind INTEGER NOT NULL,
    source TEXT NOT NULL,
    memo TEXT NOT NULL,
    actor TEXT NOT NULL,
    post_time BIGINT NOT NULL,
    origin_instance TEXT NOT NULL
);

CREATE TABLE posting_lines (
    posting_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    account TEXT NOT NULL,
    points BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    -- The line's place among the account's lines: the order its balance moved in, which
    -- on PostgreSQL need not be the order of the postings' ids.
    account_seq BIGINT NOT NULL,
    PRIMARY KEY (posting_id, line_no)
);

-- An account's statement, newest first.
CREATE UNIQUE INDEX posting_lines_by_account ON posting_lines (account, account_seq);

-- balance = earned - redeemed - gifted for every account.
CREATE TABLE account_balances (
    account TEXT PRIMARY KEY,
    balance BIGINT NOT NULL,
    earned BIGINT NOT NULL,
    redeemed BIGINT NOT NULL,
    gifted BIGINT NOT NULL,
    -- How many lines the account has: the last line's account_seq.
    line_count BIGINT NOT NULL
);

-- The points currently credited for a volunteer's service day: the activity feed posts
-- only the difference to what the day's approved minutes earn now, which makes it
-- idempotent and keeps the daily cap across several records of one day.
CREATE TABLE earned_points (
    volunteer_id TEXT NOT NULL,
    service_date TEXT NOT NULL,
    points BIGINT NOT NULL,
    PRIMARY KEY (volunteer_id, service_date)
);

CREATE TABLE benefits (
    id TEXT PRIMARY KEY,
    org_unit_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    points_cost BIGINT NOT NULL,
    stock BIGINT NOT NULL,
    active INTEGER NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX benefits_by_unit ON benefits (org_unit_id);

CREATE TABLE redemptions (
    id TEXT PRIMARY KEY,
    benefit_id TEXT NOT NULL,
    benefit_display_name TEXT NOT NULL,
    benefit_org_unit_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    points BIGINT NOT NULL,
    state INTEGER NOT NULL,
    posting_id TEXT NOT NULL,
    refund_posting_id TEXT NOT NULL,
    origin_instance TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX redemptions_by_volunteer ON redemptions (volunteer_id, id);
CREATE INDEX redemptions_by_unit ON redemptions (benefit_org_unit_id, id);
