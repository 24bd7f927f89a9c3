-- FROZEN copy for migration 0001_baseline (SQLite). Never edit: a change to a trigger is a new
-- migration with a frozen copy of its own (from server/storage/sql/).

-- ======== server/storage/sql/sqlite/status_changed.sql
-- A direct `UPDATE transactions SET status = ...` that does not say when gets the time of the
-- update (its completion time when it completes with one), so that the move counts as the user's
-- activity like one sent through the API.

-- name: trigger transactions_status_changed
CREATE TRIGGER transactions_status_changed AFTER UPDATE OF status ON transactions FOR EACH ROW
WHEN NEW.status IS NOT OLD.status AND NEW.status_changed_at IS OLD.status_changed_at
BEGIN
    UPDATE transactions SET status_changed_at = CASE
        WHEN NEW.status = 'completed' AND NEW.completed_at IS NOT NULL THEN NEW.completed_at
        ELSE strftime('%Y-%m-%d %H:%M:%f', 'now') END
    WHERE id = NEW.id;
END;

-- ======== server/storage/sql/sqlite/canonical_time.sql
-- SQLite: keep timestamp text canonical, whoever writes it. SQLite compares these columns as
-- text; the contract lets the platform write `YYYY-MM-DD HH:MM:SS[.ffffff]`, and `...:SS.000000`
-- or `...:SS.5` sort differently from the same instants written as `...:SS` or `...:SS.500000`.
-- These triggers rewrite any value written with a fraction into the sidecar's own form (no
-- fraction for a whole second, else six digits), so that every comparison at a boundary is
-- exact. The canonical form of a value v is
--   CASE WHEN rtrim(substr(v, 21), '0') = '' THEN substr(v, 1, 19)
--        ELSE substr(v, 1, 20) || substr(substr(v, 21) || '000000', 1, 6) END
-- PostgreSQL stores timestamptz: nothing to do there.

-- name: trigger canonical_transactions_created_at_ins
CREATE TRIGGER canonical_transactions_created_at_ins AFTER INSERT ON transactions FOR EACH ROW
WHEN length(NEW.created_at) > 19 AND substr(NEW.created_at, 20, 1) = '.'
    AND NEW.created_at <> CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET created_at = CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_transactions_created_at_upd
CREATE TRIGGER canonical_transactions_created_at_upd AFTER UPDATE OF created_at ON transactions FOR EACH ROW
WHEN length(NEW.created_at) > 19 AND substr(NEW.created_at, 20, 1) = '.'
    AND NEW.created_at <> CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET created_at = CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_transactions_completed_at_ins
CREATE TRIGGER canonical_transactions_completed_at_ins AFTER INSERT ON transactions FOR EACH ROW
WHEN length(NEW.completed_at) > 19 AND substr(NEW.completed_at, 20, 1) = '.'
    AND NEW.completed_at <> CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET completed_at = CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_transactions_completed_at_upd
CREATE TRIGGER canonical_transactions_completed_at_upd AFTER UPDATE OF completed_at ON transactions FOR EACH ROW
WHEN length(NEW.completed_at) > 19 AND substr(NEW.completed_at, 20, 1) = '.'
    AND NEW.completed_at <> CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET completed_at = CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_transactions_status_changed_at_ins
CREATE TRIGGER canonical_transactions_status_changed_at_ins AFTER INSERT ON transactions FOR EACH ROW
WHEN length(NEW.status_changed_at) > 19 AND substr(NEW.status_changed_at, 20, 1) = '.'
    AND NEW.status_changed_at <> CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET status_changed_at = CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_transactions_status_changed_at_upd
CREATE TRIGGER canonical_transactions_status_changed_at_upd AFTER UPDATE OF status_changed_at ON transactions FOR EACH ROW
WHEN length(NEW.status_changed_at) > 19 AND substr(NEW.status_changed_at, 20, 1) = '.'
    AND NEW.status_changed_at <> CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET status_changed_at = CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_content_views_viewed_at_ins
CREATE TRIGGER canonical_content_views_viewed_at_ins AFTER INSERT ON content_views FOR EACH ROW
WHEN length(NEW.viewed_at) > 19 AND substr(NEW.viewed_at, 20, 1) = '.'
    AND NEW.viewed_at <> CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE content_views SET viewed_at = CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_content_views_viewed_at_upd
CREATE TRIGGER canonical_content_views_viewed_at_upd AFTER UPDATE OF viewed_at ON content_views FOR EACH ROW
WHEN length(NEW.viewed_at) > 19 AND substr(NEW.viewed_at, 20, 1) = '.'
    AND NEW.viewed_at <> CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE content_views SET viewed_at = CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_user_activity_at_ins
CREATE TRIGGER canonical_user_activity_at_ins AFTER INSERT ON user_activity FOR EACH ROW
WHEN length(NEW.at) > 19 AND substr(NEW.at, 20, 1) = '.'
    AND NEW.at <> CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE user_activity SET at = CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- name: trigger canonical_user_activity_at_upd
CREATE TRIGGER canonical_user_activity_at_upd AFTER UPDATE OF at ON user_activity FOR EACH ROW
WHEN length(NEW.at) > 19 AND substr(NEW.at, 20, 1) = '.'
    AND NEW.at <> CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE user_activity SET at = CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- ======== server/storage/sql/sqlite/rollups.sql
-- Rollups on SQLite (tables in server/storage/models/derived.py): per UTC quarter hour (sales,
-- views) and per content and UTC hour / day, one row per bucket (and content), kept by row
-- triggers that upsert (SQLite's writers take turns, so no two fight over a row). Bucket text is
-- cut from the canonical UTC time text (see canonical_time.sql). Money in integer cents.

-- name: trigger rollup_transactions_insert_new
CREATE TRIGGER rollup_transactions_insert_new AFTER INSERT ON transactions FOR EACH ROW
WHEN NEW.status = 'completed'
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    VALUES (substr(coalesce(NEW.completed_at, NEW.created_at), 1, 14) || printf('%02d', (CAST(substr(coalesce(NEW.completed_at, NEW.created_at), 15, 2) AS INTEGER) / 15) * 15) || ':00', 1 * CAST(round(NEW.amount * 100) AS INTEGER), 1)
    ON CONFLICT (bucket) DO UPDATE SET revenue_cents = revenue_cents + excluded.revenue_cents,
        purchases = purchases + excluded.purchases;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(NEW.completed_at, NEW.created_at), 1, 13) || ':00:00', NEW.content_id, 0, 1, 1 * CAST(round(NEW.amount * 100) AS INTEGER)
    WHERE NEW.status = 'completed' AND NEW.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(NEW.completed_at, NEW.created_at), 1, 10) || ' 00:00:00', NEW.content_id, 0, 1, 1 * CAST(round(NEW.amount * 100) AS INTEGER)
    WHERE NEW.status = 'completed' AND NEW.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_transactions_update_old
CREATE TRIGGER rollup_transactions_update_old AFTER UPDATE ON transactions FOR EACH ROW
WHEN OLD.status = 'completed'
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    VALUES (substr(coalesce(OLD.completed_at, OLD.created_at), 1, 14) || printf('%02d', (CAST(substr(coalesce(OLD.completed_at, OLD.created_at), 15, 2) AS INTEGER) / 15) * 15) || ':00', -1 * CAST(round(OLD.amount * 100) AS INTEGER), -1)
    ON CONFLICT (bucket) DO UPDATE SET revenue_cents = revenue_cents + excluded.revenue_cents,
        purchases = purchases + excluded.purchases;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(OLD.completed_at, OLD.created_at), 1, 13) || ':00:00', OLD.content_id, 0, -1, -1 * CAST(round(OLD.amount * 100) AS INTEGER)
    WHERE OLD.status = 'completed' AND OLD.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(OLD.completed_at, OLD.created_at), 1, 10) || ' 00:00:00', OLD.content_id, 0, -1, -1 * CAST(round(OLD.amount * 100) AS INTEGER)
    WHERE OLD.status = 'completed' AND OLD.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_transactions_update_new
CREATE TRIGGER rollup_transactions_update_new AFTER UPDATE ON transactions FOR EACH ROW
WHEN NEW.status = 'completed'
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    VALUES (substr(coalesce(NEW.completed_at, NEW.created_at), 1, 14) || printf('%02d', (CAST(substr(coalesce(NEW.completed_at, NEW.created_at), 15, 2) AS INTEGER) / 15) * 15) || ':00', 1 * CAST(round(NEW.amount * 100) AS INTEGER), 1)
    ON CONFLICT (bucket) DO UPDATE SET revenue_cents = revenue_cents + excluded.revenue_cents,
        purchases = purchases + excluded.purchases;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(NEW.completed_at, NEW.created_at), 1, 13) || ':00:00', NEW.content_id, 0, 1, 1 * CAST(round(NEW.amount * 100) AS INTEGER)
    WHERE NEW.status = 'completed' AND NEW.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(NEW.completed_at, NEW.created_at), 1, 10) || ' 00:00:00', NEW.content_id, 0, 1, 1 * CAST(round(NEW.amount * 100) AS INTEGER)
    WHERE NEW.status = 'completed' AND NEW.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_transactions_delete_old
CREATE TRIGGER rollup_transactions_delete_old AFTER DELETE ON transactions FOR EACH ROW
WHEN OLD.status = 'completed'
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    VALUES (substr(coalesce(OLD.completed_at, OLD.created_at), 1, 14) || printf('%02d', (CAST(substr(coalesce(OLD.completed_at, OLD.created_at), 15, 2) AS INTEGER) / 15) * 15) || ':00', -1 * CAST(round(OLD.amount * 100) AS INTEGER), -1)
    ON CONFLICT (bucket) DO UPDATE SET revenue_cents = revenue_cents + excluded.revenue_cents,
        purchases = purchases + excluded.purchases;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(OLD.completed_at, OLD.created_at), 1, 13) || ':00:00', OLD.content_id, 0, -1, -1 * CAST(round(OLD.amount * 100) AS INTEGER)
    WHERE OLD.status = 'completed' AND OLD.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(coalesce(OLD.completed_at, OLD.created_at), 1, 10) || ' 00:00:00', OLD.content_id, 0, -1, -1 * CAST(round(OLD.amount * 100) AS INTEGER)
    WHERE OLD.status = 'completed' AND OLD.content_id IS NOT NULL
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_content_views_insert_new
CREATE TRIGGER rollup_content_views_insert_new AFTER INSERT ON content_views FOR EACH ROW
WHEN 1
BEGIN
    INSERT INTO rollup_views_15m (bucket, views) VALUES (substr(NEW.viewed_at, 1, 14) || printf('%02d', (CAST(substr(NEW.viewed_at, 15, 2) AS INTEGER) / 15) * 15) || ':00', 1)
    ON CONFLICT (bucket) DO UPDATE SET views = views + excluded.views;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(NEW.viewed_at, 1, 13) || ':00:00', NEW.content_id, 1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(NEW.viewed_at, 1, 10) || ' 00:00:00', NEW.content_id, 1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_content_views_update_old
CREATE TRIGGER rollup_content_views_update_old AFTER UPDATE ON content_views FOR EACH ROW
WHEN 1
BEGIN
    INSERT INTO rollup_views_15m (bucket, views) VALUES (substr(OLD.viewed_at, 1, 14) || printf('%02d', (CAST(substr(OLD.viewed_at, 15, 2) AS INTEGER) / 15) * 15) || ':00', -1)
    ON CONFLICT (bucket) DO UPDATE SET views = views + excluded.views;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(OLD.viewed_at, 1, 13) || ':00:00', OLD.content_id, -1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(OLD.viewed_at, 1, 10) || ' 00:00:00', OLD.content_id, -1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_content_views_update_new
CREATE TRIGGER rollup_content_views_update_new AFTER UPDATE ON content_views FOR EACH ROW
WHEN 1
BEGIN
    INSERT INTO rollup_views_15m (bucket, views) VALUES (substr(NEW.viewed_at, 1, 14) || printf('%02d', (CAST(substr(NEW.viewed_at, 15, 2) AS INTEGER) / 15) * 15) || ':00', 1)
    ON CONFLICT (bucket) DO UPDATE SET views = views + excluded.views;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(NEW.viewed_at, 1, 13) || ':00:00', NEW.content_id, 1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(NEW.viewed_at, 1, 10) || ' 00:00:00', NEW.content_id, 1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- name: trigger rollup_content_views_delete_old
CREATE TRIGGER rollup_content_views_delete_old AFTER DELETE ON content_views FOR EACH ROW
WHEN 1
BEGIN
    INSERT INTO rollup_views_15m (bucket, views) VALUES (substr(OLD.viewed_at, 1, 14) || printf('%02d', (CAST(substr(OLD.viewed_at, 15, 2) AS INTEGER) / 15) * 15) || ':00', -1)
    ON CONFLICT (bucket) DO UPDATE SET views = views + excluded.views;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(OLD.viewed_at, 1, 13) || ':00:00', OLD.content_id, -1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT substr(OLD.viewed_at, 1, 10) || ' 00:00:00', OLD.content_id, -1, 0, 0
    WHERE 1
    ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,
        purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;
END;

-- ======== server/storage/sql/sqlite/snapshot_counters.sql
-- What a snapshot reads on SQLite: `snapshot_totals` holds a single row (id 1) of transactions by
-- status, completed revenue in cents and views, kept by row triggers. (SQLite counts "active users
-- today" plainly; the day tables stay empty there.)

-- name: trigger snapshot_transactions_insert
CREATE TRIGGER snapshot_transactions_insert AFTER INSERT ON transactions FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET pending = pending + 1 * (NEW.status = 'pending'),
        completed = completed + 1 * (NEW.status = 'completed'),
        failed = failed + 1 * (NEW.status = 'failed'),
        revenue_cents = revenue_cents + 1 * CASE WHEN NEW.status = 'completed' THEN CAST(round(NEW.amount * 100) AS INTEGER) ELSE 0 END
    WHERE id = 1;
END;

-- name: trigger snapshot_transactions_update
CREATE TRIGGER snapshot_transactions_update AFTER UPDATE ON transactions FOR EACH ROW
WHEN OLD.status IS NOT NEW.status OR OLD.amount IS NOT NEW.amount
BEGIN
    UPDATE snapshot_totals SET pending = pending + -1 * (OLD.status = 'pending'),
        completed = completed + -1 * (OLD.status = 'completed'),
        failed = failed + -1 * (OLD.status = 'failed'),
        revenue_cents = revenue_cents + -1 * CASE WHEN OLD.status = 'completed' THEN CAST(round(OLD.amount * 100) AS INTEGER) ELSE 0 END
    WHERE id = 1;

    UPDATE snapshot_totals SET pending = pending + 1 * (NEW.status = 'pending'),
        completed = completed + 1 * (NEW.status = 'completed'),
        failed = failed + 1 * (NEW.status = 'failed'),
        revenue_cents = revenue_cents + 1 * CASE WHEN NEW.status = 'completed' THEN CAST(round(NEW.amount * 100) AS INTEGER) ELSE 0 END
    WHERE id = 1;
END;

-- name: trigger snapshot_transactions_delete
CREATE TRIGGER snapshot_transactions_delete AFTER DELETE ON transactions FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET pending = pending + -1 * (OLD.status = 'pending'),
        completed = completed + -1 * (OLD.status = 'completed'),
        failed = failed + -1 * (OLD.status = 'failed'),
        revenue_cents = revenue_cents + -1 * CASE WHEN OLD.status = 'completed' THEN CAST(round(OLD.amount * 100) AS INTEGER) ELSE 0 END
    WHERE id = 1;
END;

-- name: trigger snapshot_content_views_insert
CREATE TRIGGER snapshot_content_views_insert AFTER INSERT ON content_views FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET views = views + 1 WHERE id = 1;
END;

-- name: trigger snapshot_content_views_delete
CREATE TRIGGER snapshot_content_views_delete AFTER DELETE ON content_views FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET views = views - 1 WHERE id = 1;
END;
