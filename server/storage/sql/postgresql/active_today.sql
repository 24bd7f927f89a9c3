-- "Active users today" on PostgreSQL, read from the day tables by `server.storage.snapshot_inputs`
-- (read only, exact whether or not the deltas have been folded):
--   the users counted for the local day :today in `active_day_counts`,
--   plus those the unfolded `active_user_day_deltas` bring (or take away),
--   less those whose every moment today is still after :now (accepted up to 5 minutes ahead).
-- :until bounds the moments looked at after :now (the end of the local day, with margin); :zone
-- is the day tables' zone.

-- name: active users today
WITH d AS (
    SELECT user_id, sum(n) AS n FROM active_user_day_deltas WHERE day = :today GROUP BY user_id
)
SELECT (SELECT coalesce(sum(users), 0) FROM active_day_counts WHERE day = :today)
     + (SELECT coalesce(sum(CASE WHEN coalesce(a.n, 0) + d.n > 0 THEN 1 ELSE 0 END
                          - CASE WHEN coalesce(a.n, 0) > 0 THEN 1 ELSE 0 END), 0)
        FROM d LEFT JOIN active_user_days a ON a.day = :today AND a.user_id = d.user_id)
     - (SELECT count(*) FROM (
            SELECT user_id, count(*) AS ahead FROM (
                SELECT user_id FROM user_activity
                WHERE at > :now AND at < :until AND (at AT TIME ZONE :zone)::date = :today
                UNION ALL SELECT user_id FROM content_views
                WHERE viewed_at > :now AND viewed_at < :until AND (viewed_at AT TIME ZONE :zone)::date = :today
                    AND user_id IS NOT NULL
                UNION ALL SELECT user_id FROM transactions
                WHERE created_at > :now AND created_at < :until AND (created_at AT TIME ZONE :zone)::date = :today
                UNION ALL SELECT user_id FROM transactions
                WHERE completed_at > :now AND completed_at < :until
                    AND (completed_at AT TIME ZONE :zone)::date = :today
                UNION ALL SELECT user_id FROM transactions
                WHERE status_changed_at > :now AND status_changed_at < :until
                    AND (status_changed_at AT TIME ZONE :zone)::date = :today
            ) m GROUP BY user_id
        ) f
        WHERE f.ahead = coalesce((SELECT a.n FROM active_user_days a WHERE a.day = :today AND a.user_id = f.user_id), 0)
                      + coalesce((SELECT d.n FROM d WHERE d.user_id = f.user_id), 0));
