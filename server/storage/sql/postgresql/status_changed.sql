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
