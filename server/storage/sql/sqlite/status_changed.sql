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
