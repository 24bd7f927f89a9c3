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
