-- Frozen copy of `rollup_transactions_truncate` from server/storage/sql/postgresql/rollups.sql as
-- migration 0004 installed it: a TRUNCATE of `transactions` zeroes every content rollup row that
-- holds purchases or revenue (the baseline's zeroed only rows with purchases, so a row of revenue
-- alone, appended when a completed transaction's amount changed, survived it).

-- name: function rollup_transactions_truncate
CREATE FUNCTION rollup_transactions_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE rollup_sales_15m;
    UPDATE rollup_content_hour SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0 OR revenue_cents <> 0;
    UPDATE rollup_content_day SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0 OR revenue_cents <> 0;
    RETURN NULL;
END
$$;
