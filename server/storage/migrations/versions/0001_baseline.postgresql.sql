-- FROZEN copy for migration 0001_baseline (PostgreSQL). Never edit: a change to a trigger or
-- function is a new migration with a frozen copy of its own (from server/storage/sql/).

-- ======== server/storage/sql/postgresql/status_changed.sql
-- A direct `UPDATE transactions SET status = ...` that does not say when gets the time of the
-- update (its completion time when it completes with one), so that the move counts as the user's
-- activity like one sent through the API.

-- name: function transactions_status_changed
CREATE FUNCTION transactions_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status_changed_at IS NOT DISTINCT FROM OLD.status_changed_at THEN
        NEW.status_changed_at := CASE
            WHEN NEW.status = 'completed' AND NEW.completed_at IS NOT NULL THEN NEW.completed_at
            ELSE now() END;
    END IF;
    RETURN NEW;
END
$$;

-- name: trigger transactions_status_changed
CREATE TRIGGER transactions_status_changed BEFORE UPDATE OF status ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_status_changed();

-- ======== server/storage/sql/postgresql/active_days_rebuild.sql
-- Rebuild PostgreSQL's day tables (`active_user_days`, `active_day_counts`, no deltas left) from
-- the event tables, for the zone and first day in `active_days_config`. Run by
-- `server.storage.maintenance` when the sidecar's zone changes, and by the TRUNCATE triggers.
-- It holds the ACTIVE_DAYS advisory lock exclusive (server.storage.locks): no trigger appends
-- deltas and no fold runs meanwhile.

-- name: function active_days_rebuild
CREATE FUNCTION active_days_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z text;
    s date;
    lo timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    SELECT zone, since_day INTO z, s FROM active_days_config LIMIT 1;
    lo := (s - 1)::timestamp AT TIME ZONE z;
    DELETE FROM active_user_days;
    DELETE FROM active_day_counts;
    DELETE FROM active_user_day_deltas;
    INSERT INTO active_user_days (day, user_id, n)
    SELECT (t AT TIME ZONE z)::date, user_id, count(*) FROM (
        SELECT user_id, at AS t FROM user_activity WHERE at >= lo
        UNION ALL SELECT user_id, viewed_at FROM content_views WHERE viewed_at >= lo AND user_id IS NOT NULL
        UNION ALL SELECT user_id, created_at FROM transactions WHERE created_at >= lo
        UNION ALL SELECT user_id, completed_at FROM transactions WHERE completed_at >= lo
        UNION ALL SELECT user_id, status_changed_at FROM transactions WHERE status_changed_at >= lo
    ) m WHERE (t AT TIME ZONE z)::date >= s GROUP BY 1, 2;
    INSERT INTO active_day_counts (day, users) SELECT day, count(*) FROM active_user_days GROUP BY day;
END
$$;

-- ======== server/storage/sql/postgresql/rollups.sql
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
    UPDATE rollup_content_hour SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0;
    UPDATE rollup_content_day SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0;
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

-- ======== server/storage/sql/postgresql/snapshot_counters.sql
-- What a snapshot reads on PostgreSQL, kept by statement triggers (tables in
-- server/storage/models/derived.py):
-- - `snapshot_totals`: every statement writing `transactions` or `content_views` appends one row
--   of signed deltas (transactions by status, completed revenue in cents, views);
-- - `active_user_day_deltas`: every statement writing any of the three event tables appends, per
--   local day (in `active_days_config.zone`, from `since_day` on) and user, the change in that
--   user's activity moments (a `user_activity` row, a view with a user, a transaction's
--   creation, completion and status change: one each).
-- `server.storage.maintenance` folds both; `server.storage.snapshot_inputs` reads them folded or not.
-- The day-table writers hold the ACTIVE_DAYS advisory lock shared; a rebuild takes it exclusive.

-- name: function snapshot_transactions_insert
CREATE FUNCTION snapshot_transactions_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),
           coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)
    FROM (SELECT status, amount, 1 AS sign FROM new_rows) c
    HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0
        OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, created_at AS t, 1 AS sign FROM new_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, 1 AS sign FROM new_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, 1 AS sign FROM new_rows WHERE status_changed_at IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_transactions_insert
CREATE TRIGGER snapshot_transactions_insert AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_insert();

-- name: function snapshot_transactions_update
CREATE FUNCTION snapshot_transactions_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),
           coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)
    FROM (SELECT status, amount, -1 AS sign FROM old_rows
          UNION ALL SELECT status, amount, 1 AS sign FROM new_rows) c
    HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0
        OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, created_at AS t, -1 AS sign FROM old_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, -1 AS sign FROM old_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, -1 AS sign FROM old_rows WHERE status_changed_at IS NOT NULL
          UNION ALL SELECT user_id, created_at AS t, 1 AS sign FROM new_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, 1 AS sign FROM new_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, 1 AS sign FROM new_rows WHERE status_changed_at IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_transactions_update
CREATE TRIGGER snapshot_transactions_update AFTER UPDATE ON transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_update();

-- name: function snapshot_transactions_delete
CREATE FUNCTION snapshot_transactions_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),
           coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)
    FROM (SELECT status, amount, -1 AS sign FROM old_rows) c
    HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0
        OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, created_at AS t, -1 AS sign FROM old_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, -1 AS sign FROM old_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, -1 AS sign FROM old_rows WHERE status_changed_at IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_transactions_delete
CREATE TRIGGER snapshot_transactions_delete AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_delete();

-- name: function snapshot_content_views_insert
CREATE FUNCTION snapshot_content_views_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (views)
    SELECT sum(sign)
    FROM (SELECT 1 AS sign FROM new_rows) c
    HAVING coalesce(sum(sign), 0) <> 0;

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, viewed_at AS t, 1 AS sign FROM new_rows WHERE user_id IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_content_views_insert
CREATE TRIGGER snapshot_content_views_insert AFTER INSERT ON content_views
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_insert();

-- name: function snapshot_content_views_update
CREATE FUNCTION snapshot_content_views_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, viewed_at AS t, -1 AS sign FROM old_rows WHERE user_id IS NOT NULL
          UNION ALL SELECT user_id, viewed_at AS t, 1 AS sign FROM new_rows WHERE user_id IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_content_views_update
CREATE TRIGGER snapshot_content_views_update AFTER UPDATE ON content_views
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_update();

-- name: function snapshot_content_views_delete
CREATE FUNCTION snapshot_content_views_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (views)
    SELECT sum(sign)
    FROM (SELECT -1 AS sign FROM old_rows) c
    HAVING coalesce(sum(sign), 0) <> 0;

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, viewed_at AS t, -1 AS sign FROM old_rows WHERE user_id IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_content_views_delete
CREATE TRIGGER snapshot_content_views_delete AFTER DELETE ON content_views
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_delete();

-- name: function snapshot_user_activity_insert
CREATE FUNCTION snapshot_user_activity_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, at AS t, 1 AS sign FROM new_rows) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_user_activity_insert
CREATE TRIGGER snapshot_user_activity_insert AFTER INSERT ON user_activity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_insert();

-- name: function snapshot_user_activity_update
CREATE FUNCTION snapshot_user_activity_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, at AS t, -1 AS sign FROM old_rows
          UNION ALL SELECT user_id, at AS t, 1 AS sign FROM new_rows) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_user_activity_update
CREATE TRIGGER snapshot_user_activity_update AFTER UPDATE ON user_activity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_update();

-- name: function snapshot_user_activity_delete
CREATE FUNCTION snapshot_user_activity_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, at AS t, -1 AS sign FROM old_rows) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END
$$;

-- name: trigger snapshot_user_activity_delete
CREATE TRIGGER snapshot_user_activity_delete AFTER DELETE ON user_activity
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_delete();

-- TRUNCATE fires no row triggers: the totals take back what the emptied table gave (no writer of
-- the table is in flight, TRUNCATE holds its exclusive lock), and the day tables are rebuilt.

-- name: function snapshot_transactions_truncate
CREATE FUNCTION snapshot_transactions_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT -coalesce(sum(pending), 0), -coalesce(sum(completed), 0), -coalesce(sum(failed), 0),
           -coalesce(sum(revenue_cents), 0)
    FROM snapshot_totals;
    PERFORM active_days_rebuild();
    RETURN NULL;
END
$$;

-- name: trigger snapshot_transactions_truncate
CREATE TRIGGER snapshot_transactions_truncate AFTER TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_truncate();

-- name: function snapshot_content_views_truncate
CREATE FUNCTION snapshot_content_views_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (views) SELECT -coalesce(sum(views), 0) FROM snapshot_totals;
    PERFORM active_days_rebuild();
    RETURN NULL;
END
$$;

-- name: trigger snapshot_content_views_truncate
CREATE TRIGGER snapshot_content_views_truncate AFTER TRUNCATE ON content_views
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_truncate();

-- name: function snapshot_user_activity_truncate
CREATE FUNCTION snapshot_user_activity_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM active_days_rebuild();
    RETURN NULL;
END
$$;

-- name: trigger snapshot_user_activity_truncate
CREATE TRIGGER snapshot_user_activity_truncate AFTER TRUNCATE ON user_activity
    FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_truncate();
