-- table active_day_counts
    id bigint NOT NULL DEFAULT nextval('active_day_counts_id_seq'::regclass)
    day date NOT NULL
    users bigint NOT NULL

-- table active_days_config
    zone text NOT NULL
    since_day date NOT NULL

-- table active_user_day_deltas
    id bigint NOT NULL DEFAULT nextval('active_user_day_deltas_id_seq'::regclass)
    day date NOT NULL
    user_id text NOT NULL
    n bigint NOT NULL

-- table active_user_days
    day date NOT NULL
    user_id text NOT NULL
    n bigint NOT NULL

-- table alert_events
    id bigint NOT NULL DEFAULT nextval('alert_events_id_seq'::regclass)
    rule text NOT NULL
    severity text NOT NULL
    message text NOT NULL
    value text NOT NULL
    threshold text NOT NULL
    fired_at timestamp with time zone NOT NULL
    fired_snapshot_id bigint NOT NULL
    resolved_at timestamp with time zone
    resolved_snapshot_id bigint

-- table content
    id text NOT NULL
    title text
    category text

-- table content_views
    id bigint NOT NULL DEFAULT nextval('content_views_id_seq'::regclass)
    content_id text NOT NULL
    user_id text
    viewed_at timestamp with time zone NOT NULL
    event_id text

-- table deployment
    id text NOT NULL
    created_at timestamp with time zone NOT NULL

-- table late_activity
    id bigint NOT NULL DEFAULT nextval('late_activity_id_seq'::regclass)
    hour timestamp with time zone NOT NULL
    writes bigint NOT NULL
    folded boolean NOT NULL DEFAULT false

-- table rollup_content_day
    id bigint NOT NULL DEFAULT nextval('rollup_content_day_id_seq'::regclass)
    bucket timestamp with time zone NOT NULL
    content_id text NOT NULL
    views bigint NOT NULL
    purchases bigint NOT NULL
    revenue_cents bigint NOT NULL

-- table rollup_content_hour
    id bigint NOT NULL DEFAULT nextval('rollup_content_hour_id_seq'::regclass)
    bucket timestamp with time zone NOT NULL
    content_id text NOT NULL
    views bigint NOT NULL
    purchases bigint NOT NULL
    revenue_cents bigint NOT NULL

-- table rollup_sales_15m
    id bigint NOT NULL DEFAULT nextval('rollup_sales_15m_id_seq'::regclass)
    bucket timestamp with time zone NOT NULL
    revenue_cents bigint NOT NULL
    purchases bigint NOT NULL

-- table rollup_views_15m
    id bigint NOT NULL DEFAULT nextval('rollup_views_15m_id_seq'::regclass)
    bucket timestamp with time zone NOT NULL
    views bigint NOT NULL

-- table sidecar_lease
    name text NOT NULL
    holder text
    epoch bigint NOT NULL DEFAULT '0'::bigint
    expires_at timestamp with time zone

-- table snapshot_log
    snapshot_id bigint NOT NULL
    computed_at timestamp with time zone NOT NULL
    active_current integer NOT NULL
    payload text NOT NULL

-- table snapshot_totals
    id bigint NOT NULL DEFAULT nextval('snapshot_totals_id_seq'::regclass)
    pending bigint NOT NULL DEFAULT '0'::bigint
    completed bigint NOT NULL DEFAULT '0'::bigint
    failed bigint NOT NULL DEFAULT '0'::bigint
    revenue_cents bigint NOT NULL DEFAULT '0'::bigint
    views bigint NOT NULL DEFAULT '0'::bigint

-- table transactions
    id text NOT NULL
    user_id text NOT NULL
    content_id text
    amount numeric(12,2) NOT NULL
    currency character varying(3) NOT NULL
    status text NOT NULL
    created_at timestamp with time zone NOT NULL
    completed_at timestamp with time zone
    status_changed_at timestamp with time zone

-- table user_activity
    id bigint NOT NULL DEFAULT nextval('user_activity_id_seq'::regclass)
    user_id text NOT NULL
    at timestamp with time zone NOT NULL
    event_id text

-- constraints
active_day_counts: pk_active_day_counts PRIMARY KEY (id)
active_days_config: pk_active_days_config PRIMARY KEY (zone)
active_user_day_deltas: pk_active_user_day_deltas PRIMARY KEY (id)
active_user_days: pk_active_user_days PRIMARY KEY (day, user_id)
alert_events: pk_alert_events PRIMARY KEY (id)
content: pk_content PRIMARY KEY (id)
content_views: pk_content_views PRIMARY KEY (id)
content_views: uq_content_views_event_id UNIQUE (event_id)
deployment: pk_deployment PRIMARY KEY (id)
late_activity: pk_late_activity PRIMARY KEY (id)
rollup_content_day: pk_rollup_content_day PRIMARY KEY (id)
rollup_content_hour: pk_rollup_content_hour PRIMARY KEY (id)
rollup_sales_15m: pk_rollup_sales_15m PRIMARY KEY (id)
rollup_views_15m: pk_rollup_views_15m PRIMARY KEY (id)
sidecar_lease: pk_sidecar_lease PRIMARY KEY (name)
snapshot_log: pk_snapshot_log PRIMARY KEY (snapshot_id)
snapshot_totals: pk_snapshot_totals PRIMARY KEY (id)
transactions: ck_transactions_status CHECK ((status = ANY (ARRAY['pending'::text, 'completed'::text, 'failed'::text])))
transactions: pk_transactions PRIMARY KEY (id)
user_activity: pk_user_activity PRIMARY KEY (id)
user_activity: uq_user_activity_event_id UNIQUE (event_id)

-- indexes
CREATE INDEX ix_active_day_counts_day ON public.active_day_counts USING btree (day, users);
CREATE UNIQUE INDEX pk_active_day_counts ON public.active_day_counts USING btree (id);
CREATE UNIQUE INDEX pk_active_days_config ON public.active_days_config USING btree (zone);
CREATE INDEX ix_active_user_day_deltas_day ON public.active_user_day_deltas USING btree (day, user_id) INCLUDE (n);
CREATE UNIQUE INDEX pk_active_user_day_deltas ON public.active_user_day_deltas USING btree (id);
CREATE UNIQUE INDEX pk_active_user_days ON public.active_user_days USING btree (day, user_id);
CREATE INDEX ix_alert_events_fired_at ON public.alert_events USING btree (fired_at);
CREATE UNIQUE INDEX pk_alert_events ON public.alert_events USING btree (id);
CREATE UNIQUE INDEX uq_alert_events_open_rule ON public.alert_events USING btree (rule) WHERE (resolved_at IS NULL);
CREATE UNIQUE INDEX pk_content ON public.content USING btree (id);
CREATE INDEX ix_content_views_content ON public.content_views USING btree (content_id);
CREATE INDEX ix_content_views_viewed_user ON public.content_views USING btree (viewed_at, user_id);
CREATE UNIQUE INDEX pk_content_views ON public.content_views USING btree (id);
CREATE UNIQUE INDEX uq_content_views_event_id ON public.content_views USING btree (event_id);
CREATE UNIQUE INDEX pk_deployment ON public.deployment USING btree (id);
CREATE INDEX ix_late_activity_hour ON public.late_activity USING btree (hour) INCLUDE (writes);
CREATE INDEX ix_late_activity_unfolded ON public.late_activity USING btree (hour) WHERE (NOT folded);
CREATE UNIQUE INDEX pk_late_activity ON public.late_activity USING btree (id);
CREATE INDEX ix_rollup_content_day_covering ON public.rollup_content_day USING btree (bucket) INCLUDE (content_id, views, purchases, revenue_cents);
CREATE UNIQUE INDEX pk_rollup_content_day ON public.rollup_content_day USING btree (id);
CREATE INDEX ix_rollup_content_hour_covering ON public.rollup_content_hour USING btree (bucket) INCLUDE (content_id, views, purchases, revenue_cents);
CREATE UNIQUE INDEX pk_rollup_content_hour ON public.rollup_content_hour USING btree (id);
CREATE INDEX ix_rollup_sales_15m_bucket ON public.rollup_sales_15m USING btree (bucket) INCLUDE (revenue_cents, purchases);
CREATE UNIQUE INDEX pk_rollup_sales_15m ON public.rollup_sales_15m USING btree (id);
CREATE INDEX ix_rollup_views_15m_bucket ON public.rollup_views_15m USING btree (bucket) INCLUDE (views);
CREATE UNIQUE INDEX pk_rollup_views_15m ON public.rollup_views_15m USING btree (id);
CREATE UNIQUE INDEX pk_sidecar_lease ON public.sidecar_lease USING btree (name);
CREATE INDEX ix_snapshot_log_active_current ON public.snapshot_log USING btree (active_current, computed_at);
CREATE INDEX ix_snapshot_log_computed_at ON public.snapshot_log USING btree (computed_at);
CREATE UNIQUE INDEX pk_snapshot_log ON public.snapshot_log USING btree (snapshot_id);
CREATE UNIQUE INDEX pk_snapshot_totals ON public.snapshot_totals USING btree (id);
CREATE INDEX ix_transactions_changed_user ON public.transactions USING btree (status_changed_at, user_id);
CREATE INDEX ix_transactions_completed_time ON public.transactions USING btree (COALESCE(completed_at, created_at)) WHERE (status = 'completed'::text);
CREATE INDEX ix_transactions_completed_user ON public.transactions USING btree (completed_at, user_id);
CREATE INDEX ix_transactions_created_user ON public.transactions USING btree (created_at, user_id);
CREATE INDEX ix_transactions_status ON public.transactions USING btree (status);
CREATE UNIQUE INDEX pk_transactions ON public.transactions USING btree (id);
CREATE INDEX ix_user_activity_at_user ON public.user_activity USING btree (at, user_id);
CREATE UNIQUE INDEX pk_user_activity ON public.user_activity USING btree (id);
CREATE UNIQUE INDEX uq_user_activity_event_id ON public.user_activity USING btree (event_id);

-- triggers
CREATE TRIGGER late_activity_content_views_delete AFTER DELETE ON public.content_views REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_content_views();
CREATE TRIGGER late_activity_content_views_insert AFTER INSERT ON public.content_views REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_content_views();
CREATE TRIGGER late_activity_content_views_truncate AFTER TRUNCATE ON public.content_views FOR EACH STATEMENT EXECUTE FUNCTION late_activity_truncate();
CREATE TRIGGER late_activity_content_views_update AFTER UPDATE ON public.content_views REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_content_views();
CREATE TRIGGER rollup_content_views_delete AFTER DELETE ON public.content_views REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_delete();
CREATE TRIGGER rollup_content_views_insert AFTER INSERT ON public.content_views REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_insert();
CREATE TRIGGER rollup_content_views_truncate AFTER TRUNCATE ON public.content_views FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_truncate();
CREATE TRIGGER rollup_content_views_update AFTER UPDATE ON public.content_views REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_content_views_update();
CREATE TRIGGER snapshot_content_views_delete AFTER DELETE ON public.content_views REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_delete();
CREATE TRIGGER snapshot_content_views_insert AFTER INSERT ON public.content_views REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_insert();
CREATE TRIGGER snapshot_content_views_truncate AFTER TRUNCATE ON public.content_views FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_truncate();
CREATE TRIGGER snapshot_content_views_update AFTER UPDATE ON public.content_views REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_content_views_update();
CREATE TRIGGER late_activity_transactions_delete AFTER DELETE ON public.transactions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_transactions();
CREATE TRIGGER late_activity_transactions_insert AFTER INSERT ON public.transactions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_transactions();
CREATE TRIGGER late_activity_transactions_truncate AFTER TRUNCATE ON public.transactions FOR EACH STATEMENT EXECUTE FUNCTION late_activity_truncate();
CREATE TRIGGER late_activity_transactions_update AFTER UPDATE ON public.transactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_transactions();
CREATE TRIGGER rollup_transactions_delete AFTER DELETE ON public.transactions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_delete();
CREATE TRIGGER rollup_transactions_insert AFTER INSERT ON public.transactions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_insert();
CREATE TRIGGER rollup_transactions_truncate AFTER TRUNCATE ON public.transactions FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_truncate();
CREATE TRIGGER rollup_transactions_update AFTER UPDATE ON public.transactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_transactions_update();
CREATE TRIGGER snapshot_transactions_delete AFTER DELETE ON public.transactions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_delete();
CREATE TRIGGER snapshot_transactions_insert AFTER INSERT ON public.transactions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_insert();
CREATE TRIGGER snapshot_transactions_truncate AFTER TRUNCATE ON public.transactions FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_truncate();
CREATE TRIGGER snapshot_transactions_update AFTER UPDATE ON public.transactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_transactions_update();
CREATE TRIGGER transactions_status_changed BEFORE UPDATE OF status ON public.transactions FOR EACH ROW EXECUTE FUNCTION transactions_status_changed();
CREATE TRIGGER late_activity_user_activity_delete AFTER DELETE ON public.user_activity REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_user_activity();
CREATE TRIGGER late_activity_user_activity_insert AFTER INSERT ON public.user_activity REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_user_activity();
CREATE TRIGGER late_activity_user_activity_truncate AFTER TRUNCATE ON public.user_activity FOR EACH STATEMENT EXECUTE FUNCTION late_activity_truncate();
CREATE TRIGGER late_activity_user_activity_update AFTER UPDATE ON public.user_activity REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION late_activity_user_activity();
CREATE TRIGGER snapshot_user_activity_delete AFTER DELETE ON public.user_activity REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_delete();
CREATE TRIGGER snapshot_user_activity_insert AFTER INSERT ON public.user_activity REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_insert();
CREATE TRIGGER snapshot_user_activity_truncate AFTER TRUNCATE ON public.user_activity FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_truncate();
CREATE TRIGGER snapshot_user_activity_update AFTER UPDATE ON public.user_activity REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_user_activity_update();

-- function active_days_rebuild() RETURNS void
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

-- function late_activity_content_views() RETURNS trigger
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, viewed_at FROM new_rows WHERE user_id IS NOT NULL) r
        CROSS JOIN LATERAL (VALUES (r.viewed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, viewed_at FROM old_rows WHERE user_id IS NOT NULL) r
        CROSS JOIN LATERAL (VALUES (r.viewed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSE
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', c.t, 'UTC'), count(*)
        FROM (
            SELECT r.user_id, m.t
            FROM (SELECT -1 AS sign, user_id, viewed_at FROM old_rows WHERE user_id IS NOT NULL
                  UNION ALL SELECT 1, user_id, viewed_at FROM new_rows WHERE user_id IS NOT NULL) r
            CROSS JOIN LATERAL (VALUES (r.viewed_at)) m (t)
            WHERE m.t < statement_timestamp() - interval '20 hours'
            GROUP BY r.user_id, m.t HAVING sum(r.sign) <> 0
        ) c
        GROUP BY 1;
    END IF;
    RETURN NULL;
END

-- function late_activity_transactions() RETURNS trigger
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, created_at, completed_at, status_changed_at FROM new_rows) r
        CROSS JOIN LATERAL (VALUES (r.created_at), (r.completed_at), (r.status_changed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, created_at, completed_at, status_changed_at FROM old_rows) r
        CROSS JOIN LATERAL (VALUES (r.created_at), (r.completed_at), (r.status_changed_at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSE
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', c.t, 'UTC'), count(*)
        FROM (
            SELECT r.user_id, m.t
            FROM (SELECT -1 AS sign, user_id, created_at, completed_at, status_changed_at FROM old_rows
                  UNION ALL SELECT 1, user_id, created_at, completed_at, status_changed_at FROM new_rows) r
            CROSS JOIN LATERAL (VALUES (r.created_at), (r.completed_at), (r.status_changed_at)) m (t)
            WHERE m.t < statement_timestamp() - interval '20 hours'
            GROUP BY r.user_id, m.t HAVING sum(r.sign) <> 0
        ) c
        GROUP BY 1;
    END IF;
    RETURN NULL;
END

-- function late_activity_truncate() RETURNS trigger
BEGIN
    INSERT INTO late_activity (hour, writes) VALUES ('2000-01-01 00:00:00+00', 1);
    RETURN NULL;
END

-- function late_activity_user_activity() RETURNS trigger
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, at FROM new_rows) r
        CROSS JOIN LATERAL (VALUES (r.at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', m.t, 'UTC'), count(*)
        FROM (SELECT user_id, at FROM old_rows) r
        CROSS JOIN LATERAL (VALUES (r.at)) m (t)
        WHERE m.t < statement_timestamp() - interval '20 hours' GROUP BY 1;
    ELSE
        INSERT INTO late_activity (hour, writes)
        SELECT date_trunc('hour', c.t, 'UTC'), count(*)
        FROM (
            SELECT r.user_id, m.t
            FROM (SELECT -1 AS sign, user_id, at FROM old_rows
                  UNION ALL SELECT 1, user_id, at FROM new_rows) r
            CROSS JOIN LATERAL (VALUES (r.at)) m (t)
            WHERE m.t < statement_timestamp() - interval '20 hours'
            GROUP BY r.user_id, m.t HAVING sum(r.sign) <> 0
        ) c
        GROUP BY 1;
    END IF;
    RETURN NULL;
END

-- function rollup_content_views_delete() RETURNS trigger
BEGIN
    INSERT INTO rollup_views_15m (bucket, views)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign)
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows) c
    GROUP BY 1 HAVING sum(sign) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END

-- function rollup_content_views_insert() RETURNS trigger
BEGIN
    INSERT INTO rollup_views_15m (bucket, views)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign)
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    GROUP BY 1 HAVING sum(sign) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END

-- function rollup_content_views_truncate() RETURNS trigger
BEGIN
    TRUNCATE rollup_views_15m;
    UPDATE rollup_content_hour SET views = 0 WHERE views <> 0;
    UPDATE rollup_content_day SET views = 0 WHERE views <> 0;
    RETURN NULL;
END

-- function rollup_content_views_update() RETURNS trigger
BEGIN
    INSERT INTO rollup_views_15m (bucket, views)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign)
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows
          UNION ALL SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    GROUP BY 1 HAVING sum(sign) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows
          UNION ALL SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, sum(sign), 0, 0
    FROM (SELECT viewed_at AS at, content_id, 0::bigint AS cents, -1 AS sign FROM old_rows
          UNION ALL SELECT viewed_at AS at, content_id, 0::bigint AS cents, 1 AS sign FROM new_rows) c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END

-- function rollup_transactions_delete() RETURNS trigger
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign * cents), sum(sign)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed') c
    GROUP BY 1 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END

-- function rollup_transactions_insert() RETURNS trigger
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign * cents), sum(sign)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    GROUP BY 1 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END

-- function rollup_transactions_truncate() RETURNS trigger
BEGIN
    TRUNCATE rollup_sales_15m;
    UPDATE rollup_content_hour SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0 OR revenue_cents <> 0;
    UPDATE rollup_content_day SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0 OR revenue_cents <> 0;
    RETURN NULL;
END

-- function rollup_transactions_update() RETURNS trigger
BEGIN
    INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), sum(sign * cents), sum(sign)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed'
          UNION ALL SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    GROUP BY 1 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_hour (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed'
          UNION ALL SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;

    INSERT INTO rollup_content_day (bucket, content_id, views, purchases, revenue_cents)
    SELECT date_bin('1 day', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), content_id, 0, sum(sign), sum(sign * cents)
    FROM (SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, -1 AS sign FROM old_rows WHERE status = 'completed'
          UNION ALL SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents, 1 AS sign FROM new_rows WHERE status = 'completed') c
    WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0;
    RETURN NULL;
END

-- function snapshot_content_views_delete() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (views)
    SELECT sum(sign)
    FROM (SELECT -1 AS sign FROM old_rows) c
    HAVING coalesce(sum(sign), 0) <> 0;

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, viewed_at AS t, -1 AS sign FROM old_rows WHERE user_id IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_content_views_insert() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (views)
    SELECT sum(sign)
    FROM (SELECT 1 AS sign FROM new_rows) c
    HAVING coalesce(sum(sign), 0) <> 0;

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, viewed_at AS t, 1 AS sign FROM new_rows WHERE user_id IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_content_views_truncate() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (views) SELECT -coalesce(sum(views), 0) FROM snapshot_totals;
    PERFORM active_days_rebuild();
    RETURN NULL;
END

-- function snapshot_content_views_update() RETURNS trigger
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, viewed_at AS t, -1 AS sign FROM old_rows WHERE user_id IS NOT NULL
          UNION ALL SELECT user_id, viewed_at AS t, 1 AS sign FROM new_rows WHERE user_id IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_transactions_delete() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),
           coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)
    FROM (SELECT status, amount, -1 AS sign FROM old_rows) c
    HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0
        OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, created_at AS t, -1 AS sign FROM old_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, -1 AS sign FROM old_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, -1 AS sign FROM old_rows WHERE status_changed_at IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_transactions_insert() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),
           coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)
    FROM (SELECT status, amount, 1 AS sign FROM new_rows) c
    HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0
        OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, created_at AS t, 1 AS sign FROM new_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, 1 AS sign FROM new_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, 1 AS sign FROM new_rows WHERE status_changed_at IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_transactions_truncate() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT -coalesce(sum(pending), 0), -coalesce(sum(completed), 0), -coalesce(sum(failed), 0),
           -coalesce(sum(revenue_cents), 0)
    FROM snapshot_totals;
    PERFORM active_days_rebuild();
    RETURN NULL;
END

-- function snapshot_transactions_update() RETURNS trigger
BEGIN
    INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)
    SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),
           coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),
           coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)
    FROM (SELECT status, amount, -1 AS sign FROM old_rows
          UNION ALL SELECT status, amount, 1 AS sign FROM new_rows) c
    HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0
        OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0
        OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);

    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, created_at AS t, -1 AS sign FROM old_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, -1 AS sign FROM old_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, -1 AS sign FROM old_rows WHERE status_changed_at IS NOT NULL
          UNION ALL SELECT user_id, created_at AS t, 1 AS sign FROM new_rows WHERE created_at IS NOT NULL
          UNION ALL SELECT user_id, completed_at AS t, 1 AS sign FROM new_rows WHERE completed_at IS NOT NULL
          UNION ALL SELECT user_id, status_changed_at AS t, 1 AS sign FROM new_rows WHERE status_changed_at IS NOT NULL) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_user_activity_delete() RETURNS trigger
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, at AS t, -1 AS sign FROM old_rows) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_user_activity_insert() RETURNS trigger
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, at AS t, 1 AS sign FROM new_rows) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function snapshot_user_activity_truncate() RETURNS trigger
BEGIN
    PERFORM active_days_rebuild();
    RETURN NULL;
END

-- function snapshot_user_activity_update() RETURNS trigger
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7306152012);  -- server.storage.locks.ACTIVE_DAYS
    INSERT INTO active_user_day_deltas (day, user_id, n)
    SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)
    FROM (SELECT user_id, at AS t, -1 AS sign FROM old_rows
          UNION ALL SELECT user_id, at AS t, 1 AS sign FROM new_rows) m
    CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg
    WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;
    RETURN NULL;
END

-- function transactions_status_changed() RETURNS trigger
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status_changed_at IS NOT DISTINCT FROM OLD.status_changed_at THEN
        NEW.status_changed_at := CASE
            WHEN NEW.status = 'completed' AND NEW.completed_at IS NOT NULL THEN NEW.completed_at
            ELSE now() END;
    END IF;
    RETURN NEW;
END
