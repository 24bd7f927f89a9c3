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
