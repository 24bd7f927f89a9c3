-- The snapshot's inputs on PostgreSQL, in one statement (one round trip, planned once per
-- connection), read by `server.storage.snapshot_inputs` (read only, exact whatever state the
-- maintenance left the derived tables in):
--   totals: the sum of the rows of `snapshot_totals`;
--   revenue of the day, week and month: the 15-minute sales rollup for the whole quarters from
--   :day_first / :week_first / :month_first (NULL: none) up to :cut, and the raw completed rows
--   for the rest of [start, :now]: the head of each period before its first whole quarter
--   (up to :cut when it has none) and the tail from :cut on, each read on its own index range;
--   active users now: distinct users with a moment in (:current_from, :now];
--   peak: the snapshot log's highest `current` after :peak_from;
--   active users today, when :use_days and the day tables are keyed by :zone and cover :today:
--   the users counted for the day in `active_day_counts`, plus those the unfolded
--   `active_user_day_deltas` bring (or take away), less those whose every moment today is still
--   after :now (accepted up to 5 minutes ahead; :until bounds the moments looked at). NULL
--   otherwise: the caller then counts plainly.

-- name: snapshot inputs
WITH cfg AS (SELECT zone, since_day FROM active_days_config LIMIT 1),
d AS (
    SELECT user_id, sum(n) AS n FROM active_user_day_deltas WHERE day = :today GROUP BY user_id
)
SELECT tot.pending, tot.completed, tot.failed, tot.revenue_cents, tot.views,
       roll.day_cents, roll.week_cents, roll.month_cents,
       raw.day_amount, raw.week_amount, raw.month_amount,
       (SELECT count(*) FROM (
            SELECT user_id FROM user_activity WHERE at > :current_from AND at <= :now
            UNION SELECT user_id FROM content_views
            WHERE viewed_at > :current_from AND viewed_at <= :now AND user_id IS NOT NULL
            UNION SELECT user_id FROM transactions WHERE created_at > :current_from AND created_at <= :now
            UNION SELECT user_id FROM transactions WHERE completed_at > :current_from AND completed_at <= :now
            UNION SELECT user_id FROM transactions
            WHERE status_changed_at > :current_from AND status_changed_at <= :now
        ) u) AS active_current,
       (SELECT coalesce(max(active_current), 0) FROM snapshot_log WHERE computed_at > :peak_from) AS peak,
       CASE WHEN :use_days AND (SELECT zone FROM cfg) = :zone AND (SELECT since_day FROM cfg) <= :today THEN
           (SELECT coalesce(sum(users), 0) FROM active_day_counts WHERE day = :today)
           + (SELECT coalesce(sum(CASE WHEN coalesce(a.n, 0) + d.n > 0 THEN 1 ELSE 0 END
                                - CASE WHEN coalesce(a.n, 0) > 0 THEN 1 ELSE 0 END), 0)
              FROM d LEFT JOIN active_user_days a ON a.day = :today AND a.user_id = d.user_id)
           - (SELECT count(*) FROM (
                  SELECT user_id, count(*) AS ahead FROM (
                      SELECT user_id FROM user_activity
                      WHERE at > :now AND at < :until AND (at AT TIME ZONE :zone)::date = :today
                      UNION ALL SELECT user_id FROM content_views
                      WHERE viewed_at > :now AND viewed_at < :until
                          AND (viewed_at AT TIME ZONE :zone)::date = :today AND user_id IS NOT NULL
                      UNION ALL SELECT user_id FROM transactions
                      WHERE created_at > :now AND created_at < :until
                          AND (created_at AT TIME ZONE :zone)::date = :today
                      UNION ALL SELECT user_id FROM transactions
                      WHERE completed_at > :now AND completed_at < :until
                          AND (completed_at AT TIME ZONE :zone)::date = :today
                      UNION ALL SELECT user_id FROM transactions
                      WHERE status_changed_at > :now AND status_changed_at < :until
                          AND (status_changed_at AT TIME ZONE :zone)::date = :today
                  ) m GROUP BY user_id
              ) f
              WHERE f.ahead = coalesce((SELECT a.n FROM active_user_days a
                                        WHERE a.day = :today AND a.user_id = f.user_id), 0)
                            + coalesce((SELECT d.n FROM d WHERE d.user_id = f.user_id), 0))
       END AS active_today
FROM (
    SELECT coalesce(sum(pending), 0) AS pending, coalesce(sum(completed), 0) AS completed,
           coalesce(sum(failed), 0) AS failed, coalesce(sum(revenue_cents), 0) AS revenue_cents,
           coalesce(sum(views), 0) AS views
    FROM snapshot_totals
) tot,
(
    SELECT coalesce(sum(revenue_cents) FILTER (WHERE bucket >= :day_first), 0) AS day_cents,
           coalesce(sum(revenue_cents) FILTER (WHERE bucket >= :week_first), 0) AS week_cents,
           coalesce(sum(revenue_cents) FILTER (WHERE bucket >= :month_first), 0) AS month_cents
    FROM rollup_sales_15m WHERE bucket >= least(:day_first, :week_first, :month_first) AND bucket < :cut
) roll,
(
    SELECT coalesce(sum(amount) FILTER (WHERE part = 'day' OR part = 'tail' AND t >= :day_start), 0) AS day_amount,
           coalesce(sum(amount) FILTER (WHERE part = 'week' OR part = 'tail' AND t >= :week_start), 0) AS week_amount,
           coalesce(sum(amount) FILTER (WHERE part = 'month' OR part = 'tail' AND t >= :month_start), 0) AS month_amount
    FROM (
        SELECT 'tail' AS part, coalesce(completed_at, created_at) AS t, amount FROM transactions
        WHERE status = 'completed' AND coalesce(completed_at, created_at) >= :cut
            AND coalesce(completed_at, created_at) <= :now
        UNION ALL SELECT 'day', coalesce(completed_at, created_at), amount FROM transactions
        WHERE status = 'completed' AND coalesce(completed_at, created_at) >= :day_start
            AND coalesce(completed_at, created_at) < coalesce(:day_first, :cut)
        UNION ALL SELECT 'week', coalesce(completed_at, created_at), amount FROM transactions
        WHERE status = 'completed' AND coalesce(completed_at, created_at) >= :week_start
            AND coalesce(completed_at, created_at) < coalesce(:week_first, :cut)
        UNION ALL SELECT 'month', coalesce(completed_at, created_at), amount FROM transactions
        WHERE status = 'completed' AND coalesce(completed_at, created_at) >= :month_start
            AND coalesce(completed_at, created_at) < coalesce(:month_first, :cut)
    ) c
) raw;
