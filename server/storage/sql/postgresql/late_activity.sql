-- Late activity on PostgreSQL (table in server/storage/models/derived.py): every statement that
-- writes an activity moment which is already more than 20 hours old appends, per UTC hour of
-- such moments, how many it wrote. "Writes" are moments inserted, deleted, or changed by an
-- update (a moment, or the user it belongs to; a row updated without changing either counts
-- nothing: its old and new (user, moment) cancel out). A moment is a `user_activity.at`, a
-- view's `viewed_at` when it names a user, a transaction's `created_at`, `completed_at` and
-- `status_changed_at`. Pace's first-moment lists (server.storage.pace_users) compare these counts
-- with what they were when the list was read. The maintenance folds each hour's rows into one.
-- A moment written on time is never late, so everyday ingestion appends nothing here.

-- name: function late_activity_transactions
CREATE FUNCTION late_activity_transactions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, created_at, completed_at, status_changed_at FROM new_rows) r
        CROSS JOIN LATERAL (VALUES (r.created_at), (r.completed_at), (r.status_changed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, created_at, completed_at, status_changed_at FROM old_rows) r
        CROSS JOIN LATERAL (VALUES (r.created_at), (r.completed_at), (r.status_changed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSE
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', c.t, 'UTC'), count(*)
        FROM (
            SELECT r.user_id, m.t
            FROM (SELECT -1 AS sign, user_id, created_at, completed_at, status_changed_at FROM old_rows
                  UNION ALL SELECT 1, user_id, created_at, completed_at, status_changed_at FROM new_rows) r
            CROSS JOIN LATERAL (VALUES (r.created_at), (r.completed_at), (r.status_changed_at)) m (t)
            WHERE m.t < statement_timestamp() - interval '20 hours'
            GROUP BY r.user_id, m.t HAVING sum(r.sign) <> 0
        ) c
        GROUP BY 1;
    END IF;
    RETURN NULL;
END
$$;

-- name: trigger late_activity_transactions_insert
CREATE TRIGGER late_activity_transactions_insert AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_transactions();

-- name: trigger late_activity_transactions_update
CREATE TRIGGER late_activity_transactions_update AFTER UPDATE ON transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_transactions();

-- name: trigger late_activity_transactions_delete
CREATE TRIGGER late_activity_transactions_delete AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_transactions();

-- name: function late_activity_content_views
CREATE FUNCTION late_activity_content_views() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, viewed_at FROM new_rows WHERE user_id IS NOT NULL) r
        CROSS JOIN LATERAL (VALUES (r.viewed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, viewed_at FROM old_rows WHERE user_id IS NOT NULL) r
        CROSS JOIN LATERAL (VALUES (r.viewed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSE
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', c.t, 'UTC'), count(*)
        FROM (
            SELECT r.user_id, m.t
            FROM (SELECT -1 AS sign, user_id, viewed_at FROM old_rows WHERE user_id IS NOT NULL
                  UNION ALL SELECT 1, user_id, viewed_at FROM new_rows WHERE user_id IS NOT NULL) r
            CROSS JOIN LATERAL (VALUES (r.viewed_at)) m (t)
            WHERE m.t < statement_timestamp() - interval '20 hours'
            GROUP BY r.user_id, m.t HAVING sum(r.sign) <> 0
        ) c
        GROUP BY 1;
    END IF;
    RETURN NULL;
END
$$;

-- name: trigger late_activity_content_views_insert
CREATE TRIGGER late_activity_content_views_insert AFTER INSERT ON content_views
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_content_views();

-- name: trigger late_activity_content_views_update
CREATE TRIGGER late_activity_content_views_update AFTER UPDATE ON content_views
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_content_views();

-- name: trigger late_activity_content_views_delete
CREATE TRIGGER late_activity_content_views_delete AFTER DELETE ON content_views
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_content_views();

-- name: function late_activity_user_activity
CREATE FUNCTION late_activity_user_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, at FROM new_rows) r
        CROSS JOIN LATERAL (VALUES (r.at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, at FROM old_rows) r
        CROSS JOIN LATERAL (VALUES (r.at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSE
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', c.t, 'UTC'), count(*)
        FROM (
            SELECT r.user_id, m.t
            FROM (SELECT -1 AS sign, user_id, at FROM old_rows
                  UNION ALL SELECT 1, user_id, at FROM new_rows) r
            CROSS JOIN LATERAL (VALUES (r.at)) m (t)
            WHERE m.t < statement_timestamp() - interval '20 hours'
            GROUP BY r.user_id, m.t HAVING sum(r.sign) <> 0
        ) c
        GROUP BY 1;
    END IF;
    RETURN NULL;
END
$$;

-- name: trigger late_activity_user_activity_insert
CREATE TRIGGER late_activity_user_activity_insert AFTER INSERT ON user_activity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_user_activity();

-- name: trigger late_activity_user_activity_update
CREATE TRIGGER late_activity_user_activity_update AFTER UPDATE ON user_activity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_user_activity();

-- name: trigger late_activity_user_activity_delete
CREATE TRIGGER late_activity_user_activity_delete AFTER DELETE ON user_activity
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_user_activity();

-- name: function late_activity_truncate
-- Every moment of the table is gone: one write at the hour that stands for every hour
-- (server.storage.models.derived.LATE_ANY_HOUR).
CREATE FUNCTION late_activity_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO late_activity (hour, writes) VALUES ('2000-01-01 00:00:00+00', 1);
    RETURN NULL;
END
$$;

-- name: trigger late_activity_transactions_truncate
CREATE TRIGGER late_activity_transactions_truncate AFTER TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_truncate();

-- name: trigger late_activity_content_views_truncate
CREATE TRIGGER late_activity_content_views_truncate AFTER TRUNCATE ON content_views
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_truncate();

-- name: trigger late_activity_user_activity_truncate
CREATE TRIGGER late_activity_user_activity_truncate AFTER TRUNCATE ON user_activity
    FOR EACH STATEMENT EXECUTE FUNCTION late_activity_truncate();
