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
