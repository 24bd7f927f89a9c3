"""What the triggers keep from the contract's tables, so that reads do not grow with history.

Their triggers (one file per dialect and job) are in `server/storage/sql/`; the code that reads
them is `server.storage.rollups` and `server.storage.snapshot_inputs`, the code that folds and
prunes them `server.storage.maintenance`.

Rollups (money in integer cents, buckets of UTC time from 2000-01-01):
- On SQLite one row per bucket (and content), upserted by row triggers: the unique indexes
  `uq_*` hold it (SQLite's writers take turns, so no two fight over a row).
- On PostgreSQL each writing statement appends one row of signed sums per bucket (and content),
  so that concurrent writers share no row; a bucket's figure is the sum of its rows, and the
  maintenance folds recent buckets' rows into one. Covering indexes `ix_*` on the bucket.
Either way each row has a surrogate `id` key: the natural key is unique on SQLite only.

Snapshot totals: one row on SQLite; on PostgreSQL one row of signed deltas per statement, summed
by the reader and folded by the maintenance.

Per-day active users (PostgreSQL only; the tables stay empty on SQLite, which counts plainly):
per local day in `active_days_config.zone` from its `since_day` on, `active_user_days` holds how
many activity moments each user has, `active_day_counts` rows sum to the number of users with at
least one, and `active_user_day_deltas` holds what the triggers appended since the last fold.

Late activity (both dialects): `late_activity` counts, per UTC hour of the moment, the activity
moments written (inserted, moved, deleted) when they were already more than 20 hours old, so that
pace's first-moment lists (`server.storage.pace_users`) know a past day changed after they read
it. On SQLite one row per hour, upserted by row triggers; on PostgreSQL one row per statement and
hour, appended (`folded` false) and folded by the maintenance into one row per hour (`folded`
true). A TRUNCATE of an activity table counts one write at the hour `LATE_ANY_HOUR`, which stands
for every hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.models.base import Base, BigId
from server.storage.types import UtcDateTime


class RollupSales15m(Base):
    """Completed transactions by completion time (`coalesce(completed_at, created_at)`)."""

    __tablename__ = "rollup_sales_15m"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime())
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    purchases: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("uq_rollup_sales_15m_bucket", "bucket", unique=True).ddl_if(dialect="sqlite"),
        Index("ix_rollup_sales_15m_bucket", "bucket", postgresql_include=["revenue_cents", "purchases"]).ddl_if(
            dialect="postgresql"
        ),
    )


class RollupViews15m(Base):
    """Content views by `viewed_at`."""

    __tablename__ = "rollup_views_15m"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime())
    views: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("uq_rollup_views_15m_bucket", "bucket", unique=True).ddl_if(dialect="sqlite"),
        Index("ix_rollup_views_15m_bucket", "bucket", postgresql_include=["views"]).ddl_if(dialect="postgresql"),
    )


_CONTENT_MEASURES = ["content_id", "views", "purchases", "revenue_cents"]


class RollupContentHour(Base):
    """Per content and UTC hour: views, and completed purchases and revenue."""

    __tablename__ = "rollup_content_hour"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime())
    content_id: Mapped[str] = mapped_column(Text)
    views: Mapped[int] = mapped_column(BigInteger)
    purchases: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("uq_rollup_content_hour_bucket", "bucket", "content_id", unique=True).ddl_if(dialect="sqlite"),
        # A top-content query reads every content's row of each hour in its range: from the index alone.
        Index("ix_rollup_content_hour_covering", "bucket", postgresql_include=_CONTENT_MEASURES).ddl_if(
            dialect="postgresql"
        ),
    )


class RollupContentDay(Base):
    """Per content and UTC day: views, and completed purchases and revenue."""

    __tablename__ = "rollup_content_day"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime())
    content_id: Mapped[str] = mapped_column(Text)
    views: Mapped[int] = mapped_column(BigInteger)
    purchases: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("uq_rollup_content_day_bucket", "bucket", "content_id", unique=True).ddl_if(dialect="sqlite"),
        Index("ix_rollup_content_day_covering", "bucket", postgresql_include=_CONTENT_MEASURES).ddl_if(
            dialect="postgresql"
        ),
    )


class SnapshotTotals(Base):
    """All-time transactions by status, completed revenue in cents, and views (rows summed)."""

    __tablename__ = "snapshot_totals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pending: Mapped[int] = mapped_column(BigInteger, server_default="0")
    completed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    failed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    revenue_cents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    views: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ActiveDaysConfig(Base):
    """One row: the zone whose local days key the day tables, and the first day they keep."""

    __tablename__ = "active_days_config"

    zone: Mapped[str] = mapped_column(Text, primary_key=True)
    since_day: Mapped[date] = mapped_column(Date)


class ActiveUserDay(Base):
    """A user's activity moments on a local day (written by the maintenance's fold only)."""

    __tablename__ = "active_user_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class ActiveDayCount(Base):
    """Changes in the number of users active on a local day; a day's rows sum to its count."""

    __tablename__ = "active_day_counts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    users: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_active_day_counts_day", "day", "users"),)


class ActiveUserDayDelta(Base):
    """What a statement changed in a user's moments of a local day, until the next fold."""

    __tablename__ = "active_user_day_deltas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    user_id: Mapped[str] = mapped_column(Text)
    n: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_active_user_day_deltas_day", "day", "user_id", postgresql_include=["n"]),)


LATE_ANY_HOUR = datetime(2000, 1, 1, tzinfo=UTC)  # a TRUNCATE's row: every hour changed


class LateActivity(Base):
    """Activity moments written when already more than 20 hours old, per UTC hour of the moment."""

    __tablename__ = "late_activity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime())
    writes: Mapped[int] = mapped_column(BigInteger)
    folded: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        Index("uq_late_activity_hour", "hour", unique=True).ddl_if(dialect="sqlite"),
        Index("ix_late_activity_hour", "hour", postgresql_include=["writes"]).ddl_if(dialect="postgresql"),
        Index("ix_late_activity_unfolded", "hour", postgresql_where=text("NOT folded")).ddl_if(dialect="postgresql"),
    )
