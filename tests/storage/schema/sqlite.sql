-- table active_day_counts
CREATE TABLE active_day_counts (
	id INTEGER NOT NULL, 
	day DATE NOT NULL, 
	users BIGINT NOT NULL, 
	CONSTRAINT pk_active_day_counts PRIMARY KEY (id)
);

-- table active_days_config
CREATE TABLE active_days_config (
	zone TEXT NOT NULL, 
	since_day DATE NOT NULL, 
	CONSTRAINT pk_active_days_config PRIMARY KEY (zone)
);

-- table active_user_day_deltas
CREATE TABLE active_user_day_deltas (
	id INTEGER NOT NULL, 
	day DATE NOT NULL, 
	user_id TEXT NOT NULL, 
	n BIGINT NOT NULL, 
	CONSTRAINT pk_active_user_day_deltas PRIMARY KEY (id)
);

-- table active_user_days
CREATE TABLE active_user_days (
	day DATE NOT NULL, 
	user_id TEXT NOT NULL, 
	n BIGINT NOT NULL, 
	CONSTRAINT pk_active_user_days PRIMARY KEY (day, user_id)
);

-- table alert_events
CREATE TABLE alert_events (
	id INTEGER NOT NULL, 
	rule TEXT NOT NULL, 
	severity TEXT NOT NULL, 
	message TEXT NOT NULL, 
	value TEXT NOT NULL, 
	threshold TEXT NOT NULL, 
	fired_at VARCHAR(32) NOT NULL, 
	fired_snapshot_id BIGINT NOT NULL, 
	resolved_at VARCHAR(32), 
	resolved_snapshot_id BIGINT, 
	CONSTRAINT pk_alert_events PRIMARY KEY (id)
);

-- table content
CREATE TABLE content (
	id TEXT NOT NULL, 
	title TEXT, 
	category TEXT, 
	CONSTRAINT pk_content PRIMARY KEY (id)
);

-- table content_views
CREATE TABLE content_views (
	id INTEGER NOT NULL, 
	content_id TEXT NOT NULL, 
	user_id TEXT, 
	viewed_at VARCHAR(32) NOT NULL, 
	event_id TEXT, 
	CONSTRAINT pk_content_views PRIMARY KEY (id), 
	CONSTRAINT uq_content_views_event_id UNIQUE (event_id)
);

-- table deployment
CREATE TABLE deployment (
	id TEXT NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_deployment PRIMARY KEY (id)
);

-- table late_activity
CREATE TABLE late_activity (
	id INTEGER NOT NULL, 
	hour VARCHAR(32) NOT NULL, 
	writes BIGINT NOT NULL, 
	folded BOOLEAN DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_late_activity PRIMARY KEY (id)
);

-- table rollup_content_day
CREATE TABLE rollup_content_day (
	id INTEGER NOT NULL, 
	bucket VARCHAR(32) NOT NULL, 
	content_id TEXT NOT NULL, 
	views BIGINT NOT NULL, 
	purchases BIGINT NOT NULL, 
	revenue_cents BIGINT NOT NULL, 
	CONSTRAINT pk_rollup_content_day PRIMARY KEY (id)
);

-- table rollup_content_hour
CREATE TABLE rollup_content_hour (
	id INTEGER NOT NULL, 
	bucket VARCHAR(32) NOT NULL, 
	content_id TEXT NOT NULL, 
	views BIGINT NOT NULL, 
	purchases BIGINT NOT NULL, 
	revenue_cents BIGINT NOT NULL, 
	CONSTRAINT pk_rollup_content_hour PRIMARY KEY (id)
);

-- table rollup_sales_15m
CREATE TABLE rollup_sales_15m (
	id INTEGER NOT NULL, 
	bucket VARCHAR(32) NOT NULL, 
	revenue_cents BIGINT NOT NULL, 
	purchases BIGINT NOT NULL, 
	CONSTRAINT pk_rollup_sales_15m PRIMARY KEY (id)
);

-- table rollup_views_15m
CREATE TABLE rollup_views_15m (
	id INTEGER NOT NULL, 
	bucket VARCHAR(32) NOT NULL, 
	views BIGINT NOT NULL, 
	CONSTRAINT pk_rollup_views_15m PRIMARY KEY (id)
);

-- table sidecar_lease
CREATE TABLE sidecar_lease (
	name TEXT NOT NULL, 
	holder TEXT, 
	epoch BIGINT DEFAULT '0' NOT NULL, 
	expires_at VARCHAR(32), 
	CONSTRAINT pk_sidecar_lease PRIMARY KEY (name)
);

-- table snapshot_log
CREATE TABLE snapshot_log (
	snapshot_id BIGINT NOT NULL, 
	computed_at VARCHAR(32) NOT NULL, 
	active_current INTEGER NOT NULL, 
	payload TEXT NOT NULL, 
	CONSTRAINT pk_snapshot_log PRIMARY KEY (snapshot_id)
);

-- table snapshot_totals
CREATE TABLE snapshot_totals (
	id INTEGER NOT NULL, 
	pending BIGINT DEFAULT '0' NOT NULL, 
	completed BIGINT DEFAULT '0' NOT NULL, 
	failed BIGINT DEFAULT '0' NOT NULL, 
	revenue_cents BIGINT DEFAULT '0' NOT NULL, 
	views BIGINT DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_snapshot_totals PRIMARY KEY (id)
);

-- table transactions
CREATE TABLE transactions (
	id TEXT NOT NULL, 
	user_id TEXT NOT NULL, 
	content_id TEXT, 
	amount NUMERIC(12, 2) NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	status TEXT NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	completed_at VARCHAR(32), 
	status_changed_at VARCHAR(32), 
	CONSTRAINT pk_transactions PRIMARY KEY (id), 
	CONSTRAINT ck_transactions_status CHECK (status IN ('pending', 'completed', 'failed'))
);

-- table user_activity
CREATE TABLE user_activity (
	id INTEGER NOT NULL, 
	user_id TEXT NOT NULL, 
	at VARCHAR(32) NOT NULL, 
	event_id TEXT, 
	CONSTRAINT pk_user_activity PRIMARY KEY (id), 
	CONSTRAINT uq_user_activity_event_id UNIQUE (event_id)
);

-- index ix_active_day_counts_day
CREATE INDEX ix_active_day_counts_day ON active_day_counts (day, users);

-- index ix_active_user_day_deltas_day
CREATE INDEX ix_active_user_day_deltas_day ON active_user_day_deltas (day, user_id);

-- index ix_alert_events_fired_at
CREATE INDEX ix_alert_events_fired_at ON alert_events (fired_at);

-- index uq_alert_events_open_rule
CREATE UNIQUE INDEX uq_alert_events_open_rule ON alert_events (rule) WHERE resolved_at IS NULL;

-- index ix_content_views_content
CREATE INDEX ix_content_views_content ON content_views (content_id);

-- index ix_content_views_viewed_user
CREATE INDEX ix_content_views_viewed_user ON content_views (viewed_at, user_id);

-- index uq_late_activity_hour
CREATE UNIQUE INDEX uq_late_activity_hour ON late_activity (hour);

-- index uq_rollup_content_day_bucket
CREATE UNIQUE INDEX uq_rollup_content_day_bucket ON rollup_content_day (bucket, content_id);

-- index uq_rollup_content_hour_bucket
CREATE UNIQUE INDEX uq_rollup_content_hour_bucket ON rollup_content_hour (bucket, content_id);

-- index uq_rollup_sales_15m_bucket
CREATE UNIQUE INDEX uq_rollup_sales_15m_bucket ON rollup_sales_15m (bucket);

-- index uq_rollup_views_15m_bucket
CREATE UNIQUE INDEX uq_rollup_views_15m_bucket ON rollup_views_15m (bucket);

-- index ix_snapshot_log_active_current
CREATE INDEX ix_snapshot_log_active_current ON snapshot_log (active_current, computed_at);

-- index ix_snapshot_log_computed_at
CREATE INDEX ix_snapshot_log_computed_at ON snapshot_log (computed_at);

-- index ix_transactions_changed_user
CREATE INDEX ix_transactions_changed_user ON transactions (status_changed_at, user_id);

-- index ix_transactions_completed_time
CREATE INDEX ix_transactions_completed_time ON transactions (coalesce(completed_at, created_at)) WHERE status = 'completed';

-- index ix_transactions_completed_user
CREATE INDEX ix_transactions_completed_user ON transactions (completed_at, user_id);

-- index ix_transactions_created_user
CREATE INDEX ix_transactions_created_user ON transactions (created_at, user_id);

-- index ix_transactions_status
CREATE INDEX ix_transactions_status ON transactions (status);

-- index ix_user_activity_at_user
CREATE INDEX ix_user_activity_at_user ON user_activity (at, user_id);

-- trigger canonical_content_views_viewed_at_ins
CREATE TRIGGER canonical_content_views_viewed_at_ins AFTER INSERT ON content_views FOR EACH ROW
WHEN length(NEW.viewed_at) > 19 AND substr(NEW.viewed_at, 20, 1) = '.'
    AND NEW.viewed_at <> CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE content_views SET viewed_at = CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_content_views_viewed_at_upd
CREATE TRIGGER canonical_content_views_viewed_at_upd AFTER UPDATE OF viewed_at ON content_views FOR EACH ROW
WHEN length(NEW.viewed_at) > 19 AND substr(NEW.viewed_at, 20, 1) = '.'
    AND NEW.viewed_at <> CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE content_views SET viewed_at = CASE WHEN rtrim(substr(NEW.viewed_at, 21), '0') = '' THEN substr(NEW.viewed_at, 1, 19) ELSE substr(NEW.viewed_at, 1, 20) || substr(substr(NEW.viewed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger late_activity_content_views_delete
CREATE TRIGGER late_activity_content_views_delete AFTER DELETE ON content_views FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.viewed_at AS t WHERE OLD.user_id IS NOT NULL
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger late_activity_content_views_insert
CREATE TRIGGER late_activity_content_views_insert AFTER INSERT ON content_views FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT NEW.viewed_at AS t WHERE NEW.user_id IS NOT NULL
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger late_activity_content_views_update
CREATE TRIGGER late_activity_content_views_update AFTER UPDATE OF user_id, viewed_at ON content_views FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.viewed_at AS t WHERE (OLD.viewed_at IS NOT NEW.viewed_at OR OLD.user_id IS NOT NEW.user_id) AND OLD.user_id IS NOT NULL
        UNION ALL SELECT NEW.viewed_at WHERE (OLD.viewed_at IS NOT NEW.viewed_at OR OLD.user_id IS NOT NEW.user_id) AND NEW.user_id IS NOT NULL
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger rollup_content_views_delete_old
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

-- trigger rollup_content_views_insert_new
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

-- trigger rollup_content_views_update_new
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

-- trigger rollup_content_views_update_old
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

-- trigger snapshot_content_views_delete
CREATE TRIGGER snapshot_content_views_delete AFTER DELETE ON content_views FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET views = views - 1 WHERE id = 1;
END;

-- trigger snapshot_content_views_insert
CREATE TRIGGER snapshot_content_views_insert AFTER INSERT ON content_views FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET views = views + 1 WHERE id = 1;
END;

-- trigger canonical_transactions_completed_at_ins
CREATE TRIGGER canonical_transactions_completed_at_ins AFTER INSERT ON transactions FOR EACH ROW
WHEN length(NEW.completed_at) > 19 AND substr(NEW.completed_at, 20, 1) = '.'
    AND NEW.completed_at <> CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET completed_at = CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_transactions_completed_at_upd
CREATE TRIGGER canonical_transactions_completed_at_upd AFTER UPDATE OF completed_at ON transactions FOR EACH ROW
WHEN length(NEW.completed_at) > 19 AND substr(NEW.completed_at, 20, 1) = '.'
    AND NEW.completed_at <> CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET completed_at = CASE WHEN rtrim(substr(NEW.completed_at, 21), '0') = '' THEN substr(NEW.completed_at, 1, 19) ELSE substr(NEW.completed_at, 1, 20) || substr(substr(NEW.completed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_transactions_created_at_ins
CREATE TRIGGER canonical_transactions_created_at_ins AFTER INSERT ON transactions FOR EACH ROW
WHEN length(NEW.created_at) > 19 AND substr(NEW.created_at, 20, 1) = '.'
    AND NEW.created_at <> CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET created_at = CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_transactions_created_at_upd
CREATE TRIGGER canonical_transactions_created_at_upd AFTER UPDATE OF created_at ON transactions FOR EACH ROW
WHEN length(NEW.created_at) > 19 AND substr(NEW.created_at, 20, 1) = '.'
    AND NEW.created_at <> CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET created_at = CASE WHEN rtrim(substr(NEW.created_at, 21), '0') = '' THEN substr(NEW.created_at, 1, 19) ELSE substr(NEW.created_at, 1, 20) || substr(substr(NEW.created_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_transactions_status_changed_at_ins
CREATE TRIGGER canonical_transactions_status_changed_at_ins AFTER INSERT ON transactions FOR EACH ROW
WHEN length(NEW.status_changed_at) > 19 AND substr(NEW.status_changed_at, 20, 1) = '.'
    AND NEW.status_changed_at <> CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET status_changed_at = CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_transactions_status_changed_at_upd
CREATE TRIGGER canonical_transactions_status_changed_at_upd AFTER UPDATE OF status_changed_at ON transactions FOR EACH ROW
WHEN length(NEW.status_changed_at) > 19 AND substr(NEW.status_changed_at, 20, 1) = '.'
    AND NEW.status_changed_at <> CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE transactions SET status_changed_at = CASE WHEN rtrim(substr(NEW.status_changed_at, 21), '0') = '' THEN substr(NEW.status_changed_at, 1, 19) ELSE substr(NEW.status_changed_at, 1, 20) || substr(substr(NEW.status_changed_at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger late_activity_transactions_delete
CREATE TRIGGER late_activity_transactions_delete AFTER DELETE ON transactions FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.created_at AS t
        UNION ALL SELECT OLD.completed_at
        UNION ALL SELECT OLD.status_changed_at
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger late_activity_transactions_insert
CREATE TRIGGER late_activity_transactions_insert AFTER INSERT ON transactions FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT NEW.created_at AS t
        UNION ALL SELECT NEW.completed_at
        UNION ALL SELECT NEW.status_changed_at
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger late_activity_transactions_update
CREATE TRIGGER late_activity_transactions_update AFTER UPDATE OF user_id, created_at, completed_at, status_changed_at ON transactions FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.created_at AS t WHERE (OLD.created_at IS NOT NEW.created_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.created_at WHERE (OLD.created_at IS NOT NEW.created_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT OLD.completed_at WHERE (OLD.completed_at IS NOT NEW.completed_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.completed_at WHERE (OLD.completed_at IS NOT NEW.completed_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT OLD.status_changed_at WHERE (OLD.status_changed_at IS NOT NEW.status_changed_at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.status_changed_at WHERE (OLD.status_changed_at IS NOT NEW.status_changed_at OR OLD.user_id IS NOT NEW.user_id)
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger rollup_transactions_delete_old
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

-- trigger rollup_transactions_insert_new
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

-- trigger rollup_transactions_update_new
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

-- trigger rollup_transactions_update_old
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

-- trigger snapshot_transactions_delete
CREATE TRIGGER snapshot_transactions_delete AFTER DELETE ON transactions FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET pending = pending + -1 * (OLD.status = 'pending'),
        completed = completed + -1 * (OLD.status = 'completed'),
        failed = failed + -1 * (OLD.status = 'failed'),
        revenue_cents = revenue_cents + -1 * CASE WHEN OLD.status = 'completed' THEN CAST(round(OLD.amount * 100) AS INTEGER) ELSE 0 END
    WHERE id = 1;
END;

-- trigger snapshot_transactions_insert
CREATE TRIGGER snapshot_transactions_insert AFTER INSERT ON transactions FOR EACH ROW
BEGIN
    UPDATE snapshot_totals SET pending = pending + 1 * (NEW.status = 'pending'),
        completed = completed + 1 * (NEW.status = 'completed'),
        failed = failed + 1 * (NEW.status = 'failed'),
        revenue_cents = revenue_cents + 1 * CASE WHEN NEW.status = 'completed' THEN CAST(round(NEW.amount * 100) AS INTEGER) ELSE 0 END
    WHERE id = 1;
END;

-- trigger snapshot_transactions_update
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

-- trigger transactions_status_changed
CREATE TRIGGER transactions_status_changed AFTER UPDATE OF status ON transactions FOR EACH ROW
WHEN NEW.status IS NOT OLD.status AND NEW.status_changed_at IS OLD.status_changed_at
BEGIN
    UPDATE transactions SET status_changed_at = CASE
        WHEN NEW.status = 'completed' AND NEW.completed_at IS NOT NULL THEN NEW.completed_at
        ELSE strftime('%Y-%m-%d %H:%M:%f', 'now') END
    WHERE id = NEW.id;
END;

-- trigger canonical_user_activity_at_ins
CREATE TRIGGER canonical_user_activity_at_ins AFTER INSERT ON user_activity FOR EACH ROW
WHEN length(NEW.at) > 19 AND substr(NEW.at, 20, 1) = '.'
    AND NEW.at <> CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE user_activity SET at = CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger canonical_user_activity_at_upd
CREATE TRIGGER canonical_user_activity_at_upd AFTER UPDATE OF at ON user_activity FOR EACH ROW
WHEN length(NEW.at) > 19 AND substr(NEW.at, 20, 1) = '.'
    AND NEW.at <> CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
BEGIN
    UPDATE user_activity SET at = CASE WHEN rtrim(substr(NEW.at, 21), '0') = '' THEN substr(NEW.at, 1, 19) ELSE substr(NEW.at, 1, 20) || substr(substr(NEW.at, 21) || '000000', 1, 6) END
    WHERE rowid = NEW.rowid;
END;

-- trigger late_activity_user_activity_delete
CREATE TRIGGER late_activity_user_activity_delete AFTER DELETE ON user_activity FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.at AS t
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger late_activity_user_activity_insert
CREATE TRIGGER late_activity_user_activity_insert AFTER INSERT ON user_activity FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT NEW.at AS t
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

-- trigger late_activity_user_activity_update
CREATE TRIGGER late_activity_user_activity_update AFTER UPDATE OF user_id, at ON user_activity FOR EACH ROW
BEGIN
    INSERT INTO late_activity (hour, writes)
    SELECT substr(t, 1, 13) || ':00:00', count(*) FROM (
        SELECT OLD.at AS t WHERE (OLD.at IS NOT NEW.at OR OLD.user_id IS NOT NEW.user_id)
        UNION ALL SELECT NEW.at WHERE (OLD.at IS NOT NEW.at OR OLD.user_id IS NOT NEW.user_id)
    ) WHERE t < strftime('%Y-%m-%d %H:%M:%S', 'now', '-20 hours') GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET writes = writes + excluded.writes;
END;

