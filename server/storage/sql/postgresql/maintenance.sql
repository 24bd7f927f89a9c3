-- PostgreSQL's maintenance of the derived tables, run by `server.storage.maintenance` (never by a
-- read): fold appended delta rows into one, forget day rows the sidecar no longer reads, re-key
-- the day tables by a new zone. Each fold is all or nothing, and the readers are exact before
-- and after it. The caller holds the ACTIVE_DAYS lock shared (no rebuild meanwhile) and the FOLD
-- lock (one folder at a time); see server.storage.locks.

-- name: fold snapshot_totals
-- The totals' rows of signed deltas into one.
WITH gone AS (DELETE FROM snapshot_totals RETURNING *)
INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents, views)
SELECT coalesce(sum(pending), 0), coalesce(sum(completed), 0), coalesce(sum(failed), 0),
       coalesce(sum(revenue_cents), 0), coalesce(sum(views), 0)
FROM gone;

-- name: fold active_user_day_deltas
-- The triggers' deltas into the day rows (only folders write those), and the change in users with
-- at least one moment into the day counts.
WITH gone AS (DELETE FROM active_user_day_deltas RETURNING day, user_id, n),
c AS (SELECT day, user_id, sum(n) AS d FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0),
up AS (
    INSERT INTO active_user_days AS r (day, user_id, n)
    SELECT day, user_id, d FROM c ORDER BY day, user_id
    ON CONFLICT (day, user_id) DO UPDATE SET n = r.n + EXCLUDED.n
    RETURNING r.day, r.user_id, r.n
),
moved AS (
    SELECT up.day, CASE WHEN up.n > 0 AND up.n - c.d <= 0 THEN 1
                        WHEN up.n <= 0 AND up.n - c.d > 0 THEN -1 ELSE 0 END AS users
    FROM up JOIN c ON c.day = up.day AND c.user_id = up.user_id
)
INSERT INTO active_day_counts (day, users)
SELECT day, sum(users) FROM moved GROUP BY day HAVING sum(users) <> 0;

-- name: fold active_day_counts
-- One day's rows of counts into one.
WITH gone AS (DELETE FROM active_day_counts WHERE day = :today RETURNING users)
INSERT INTO active_day_counts (day, users) SELECT :today, coalesce(sum(users), 0) FROM gone;

-- name: fold rollup_sales_15m
-- The rows of each bucket from :lo on that has more than one, into their sum. Rows a writer
-- commits meanwhile are not in the statement's snapshot: neither deleted nor summed.
WITH k AS (SELECT bucket FROM rollup_sales_15m WHERE bucket >= :lo GROUP BY bucket HAVING count(*) > 1),
gone AS (DELETE FROM rollup_sales_15m r USING k WHERE r.bucket = k.bucket RETURNING r.*)
INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
SELECT bucket, sum(revenue_cents), sum(purchases) FROM gone
GROUP BY bucket HAVING sum(revenue_cents) <> 0 OR sum(purchases) <> 0;

-- name: fold rollup_views_15m
WITH k AS (SELECT bucket FROM rollup_views_15m WHERE bucket >= :lo GROUP BY bucket HAVING count(*) > 1),
gone AS (DELETE FROM rollup_views_15m r USING k WHERE r.bucket = k.bucket RETURNING r.*)
INSERT INTO rollup_views_15m (bucket, views)
SELECT bucket, sum(views) FROM gone
GROUP BY bucket HAVING sum(views) <> 0;

-- name: fold rollup_content_hour
WITH k AS (
    SELECT bucket, content_id FROM rollup_content_hour WHERE bucket >= :lo
    GROUP BY bucket, content_id HAVING count(*) > 1
),
gone AS (
    DELETE FROM rollup_content_hour r USING k
    WHERE r.bucket = k.bucket AND r.content_id = k.content_id RETURNING r.*
)
INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
SELECT bucket, content_id, sum(views), sum(purchases), sum(revenue_cents) FROM gone
GROUP BY bucket, content_id HAVING sum(views) <> 0 OR sum(purchases) <> 0 OR sum(revenue_cents) <> 0;

-- name: fold rollup_content_day
WITH k AS (
    SELECT bucket, content_id FROM rollup_content_day WHERE bucket >= :lo
    GROUP BY bucket, content_id HAVING count(*) > 1
),
gone AS (
    DELETE FROM rollup_content_day r USING k
    WHERE r.bucket = k.bucket AND r.content_id = k.content_id RETURNING r.*
)
INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
SELECT bucket, content_id, sum(views), sum(purchases), sum(revenue_cents) FROM gone
GROUP BY bucket, content_id HAVING sum(views) <> 0 OR sum(purchases) <> 0 OR sum(revenue_cents) <> 0;

-- name: fold late_activity
-- The appended rows of each hour that has any, with its folded row, into one folded row: the sum
-- per hour (what pace's lists compare) is the same before and after.
WITH k AS (SELECT DISTINCT hour FROM late_activity WHERE NOT folded),
gone AS (DELETE FROM late_activity r USING k WHERE r.hour = k.hour RETURNING r.hour, r.writes)
INSERT INTO late_activity (hour, writes, folded)
SELECT hour, sum(writes), true FROM gone GROUP BY hour;

-- name: prune active_user_days
-- Day rows before the first day kept, a chunk at a time (a whole day's worth goes over a few runs).
DELETE FROM active_user_days WHERE (day, user_id) IN
    (SELECT day, user_id FROM active_user_days WHERE day < :since LIMIT 5000);

-- name: prune active_day_counts
DELETE FROM active_day_counts WHERE day < :since;

-- name: prune active_user_day_deltas
DELETE FROM active_user_day_deltas WHERE day < :since;

-- name: keep days from
UPDATE active_days_config SET since_day = :since;

-- name: key days by zone
-- A new zone: the caller then holds the ACTIVE_DAYS lock exclusive and runs active_days_rebuild().
UPDATE active_days_config SET zone = :zone, since_day = :since;

-- name: zone is known
SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = :zone);

-- name: what needs doing
-- What the derived tables hold, to decide which of the steps above to run. Oldest days by min():
-- an index's first entry, where `EXISTS (... WHERE day < :since)` may scan a whole table.
SELECT (SELECT count(*) FROM snapshot_totals) AS totals_rows,
       (SELECT count(*) FROM rollup_sales_15m WHERE bucket >= :recent)
           + (SELECT count(*) FROM rollup_views_15m WHERE bucket >= :recent) AS recent_rollup_rows,
       (SELECT count(*) FROM active_day_counts WHERE day = :today) AS today_count_rows,
       least((SELECT min(day) FROM active_user_days), (SELECT min(day) FROM active_day_counts)) AS oldest_day,
       (SELECT min(day) FROM active_user_day_deltas) AS oldest_delta_day,
       (SELECT count(*) FROM late_activity WHERE NOT folded) AS unfolded_late_rows;
