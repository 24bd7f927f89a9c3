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
