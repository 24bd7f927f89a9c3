-- Late activity on SQLite (table in server/storage/models/derived.py): row triggers count, per
-- UTC hour of the moment, every activity moment written when it is already more than 20 hours
-- old: inserted, deleted, or changed by an update (the moment, or the user it belongs to; the
-- old and the new moment both count). Moments are those of the PostgreSQL file: `at`, a view's
-- `viewed_at` when it names a user, a transaction's `created_at`, `completed_at` and
-- `status_changed_at`. One row per hour, upserted (SQLite's writers take turns). A moment written
-- on time is never late, so everyday ingestion writes nothing here. SQLite has no TRUNCATE: a
-- `DELETE` without `WHERE` runs the row triggers (its truncate shortcut is off when a table has
-- triggers).

-- name: trigger late_activity_transactions_insert
CREATE TRIGGER late_activity_transactions_insert AFTER INSERT ON transactions FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT NEW.created_at AS t
        UNION ALL SELECT NEW.completed_at
        UNION ALL SELECT NEW.status_changed_at
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_transactions_delete
CREATE TRIGGER late_activity_transactions_delete AFTER DELETE ON transactions FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.created_at AS t
        UNION ALL SELECT OLD.completed_at
        UNION ALL SELECT OLD.status_changed_at
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_transactions_update
CREATE TRIGGER late_activity_transactions_update AFTER UPDATE OF user_id, created_at, completed_at, status_changed_at ON transactions FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.created_at AS t WHERE (OLD.created_at IS NOT NEW.created_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.created_at WHERE (OLD.created_at IS NOT NEW.created_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT OLD.completed_at WHERE (OLD.completed_at IS NOT NEW.completed_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.completed_at WHERE (OLD.completed_at IS NOT NEW.completed_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT OLD.status_changed_at WHERE (OLD.status_changed_at IS NOT NEW.status_changed_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.status_changed_at WHERE (OLD.status_changed_at IS NOT NEW.status_changed_at OR OLD.user_id IS NOT NEW.user_id)
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_content_views_insert
CREATE TRIGGER late_activity_content_views_insert AFTER INSERT ON content_views FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT NEW.viewed_at AS t WHERE NEW.user_id IS NOT NULL
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_content_views_delete
CREATE TRIGGER late_activity_content_views_delete AFTER DELETE ON content_views FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.viewed_at AS t WHERE OLD.user_id IS NOT NULL
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_content_views_update
CREATE TRIGGER late_activity_content_views_update AFTER UPDATE OF user_id, viewed_at ON content_views FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.viewed_at AS t WHERE (OLD.viewed_at IS NOT NEW.viewed_at OR OLD.user_id IS NOT NEW.user_id) AND OLD.user_id IS NOT NULL
        UNION ALL SELECT NEW.viewed_at WHERE (OLD.viewed_at IS NOT NEW.viewed_at OR OLD.user_id IS NOT NEW.user_id) AND NEW.user_id IS NOT NULL
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_user_activity_insert
CREATE TRIGGER late_activity_user_activity_insert AFTER INSERT ON user_activity FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT NEW.at AS t
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_user_activity_delete
CREATE TRIGGER late_activity_user_activity_delete AFTER DELETE ON user_activity FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.at AS t
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- name: trigger late_activity_user_activity_update
CREATE TRIGGER late_activity_user_activity_update AFTER UPDATE OF user_id, at ON user_activity FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.at AS t WHERE (OLD.at IS NOT NEW.at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.at WHERE (OLD.at IS NOT NEW.at OR OLD.user_id IS NOT NEW.user_id)
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;
