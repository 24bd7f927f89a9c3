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
