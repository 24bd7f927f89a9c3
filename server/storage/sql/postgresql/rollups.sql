-- Rollups on PostgreSQL (tables in server/storage/models/derived.py): per UTC quarter hour
-- (sales, views) and per content and UTC hour / day. Every statement that writes `transactions`
-- or `content_views` appends, per bucket (and content), one row of the signed sums it brings: no
-- upsert, so that concurrent writers share no row. A bucket's figure is the sum of its rows;
-- `server.storage.maintenance` folds the recent buckets' rows into one each. Money in cents.

-- name: function rollup_transactions_insert
CREATE FUNCTION rollup_transactions_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign * cents), sum(sign)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    GROUP BY 1 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_transactions_insert
CREATE TRIGGER rollup_transactions_insert AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_insert();

-- name: function rollup_transactions_update
CREATE FUNCTION rollup_transactions_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign * cents), sum(sign)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed'
          UNION ALL SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    GROUP BY 1 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed'
          UNION ALL SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed'
          UNION ALL SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_transactions_update
CREATE TRIGGER rollup_transactions_update AFTER UPDATE ON transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_update();

-- name: function rollup_transactions_delete
CREATE FUNCTION rollup_transactions_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign * cents), sum(sign)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed') c
    GROUP BY 1 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_transactions_delete
CREATE TRIGGER rollup_transactions_delete AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_delete();

-- name: function rollup_content_views_insert
CREATE FUNCTION rollup_content_views_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_views_15m (bucket, views)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign)
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    GROUP BY 1 HAVING sum(sign) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_content_views_insert
CREATE TRIGGER rollup_content_views_insert AFTER INSERT ON content_views
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_insert();

-- name: function rollup_content_views_update
CREATE FUNCTION rollup_content_views_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_views_15m (bucket, views)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign)
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows
          UNION ALL SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    GROUP BY 1 HAVING sum(sign) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows
          UNION ALL SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows
          UNION ALL SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_content_views_update
CREATE TRIGGER rollup_content_views_update AFTER UPDATE ON content_views
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_update();

-- name: function rollup_content_views_delete
CREATE FUNCTION rollup_content_views_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_views_15m (bucket, views)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign)
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows) c
    GROUP BY 1 HAVING sum(sign) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_content_views_delete
CREATE TRIGGER rollup_content_views_delete AFTER DELETE ON content_views
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_delete();

-- TRUNCATE fires no row or DELETE triggers: clear what the emptied table contributed.

-- name: function rollup_transactions_truncate
CREATE FUNCTION rollup_transactions_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE rollup_sales_15m;
    UPDATE rollup_content_hour SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0 OR revenue_cents <> 0;
    UPDATE rollup_content_day SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0 OR revenue_cents <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_transactions_truncate
CREATE TRIGGER rollup_transactions_truncate AFTER TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_truncate();

-- name: function rollup_content_views_truncate
CREATE FUNCTION rollup_content_views_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE rollup_views_15m;
    UPDATE rollup_content_hour SET views = 0 WHERE views <> 0;
    UPDATE rollup_content_day SET views = 0 WHERE views <> 0;
    RETURN NULL;
END
$$;

-- name: trigger rollup_content_views_truncate
CREATE TRIGGER rollup_content_views_truncate AFTER TRUNCATE ON content_views
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_truncate();
