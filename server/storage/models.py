"""The contract's tables (`transactions`, `content_views`, `user_activity`) and the sidecar's own.

Column names and meanings of the first three are public: the platform may write them directly.
Columns the sidecar adds all have defaults, so such writes keep working.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, MetaData, Numeric, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.storage.types import UtcDateTime

STATUSES = ("pending", "completed", "failed")

# An id column that autoincrements on both databases (SQLite only does it for INTEGER PRIMARY KEY).
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    content_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Ours: when the status last moved. Set by the sidecar; a trigger sets it for direct updates.
    status_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'completed', 'failed')", name="status"),
        Index("ix_transactions_status", "status"),
        Index(
            "ix_transactions_completed_time",
            func.coalesce(completed_at, created_at),
            postgresql_where=status == "completed",
            sqlite_where=status == "completed",
        ),
        Index("ix_transactions_created_user", "created_at", "user_id"),
        Index("ix_transactions_completed_user", "completed_at", "user_id"),
        Index("ix_transactions_changed_user", "status_changed_at", "user_id"),
    )


class ContentView(Base):
    __tablename__ = "content_views"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    content_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    viewed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_id: Mapped[str | None] = mapped_column(Text, nullable=True, unique=True)

    __table_args__ = (
        Index("ix_content_views_viewed_user", "viewed_at", "user_id"),
        Index("ix_content_views_content", "content_id"),
    )


class UserActivity(Base):
    __tablename__ = "user_activity"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_id: Mapped[str | None] = mapped_column(Text, nullable=True, unique=True)

    __table_args__ = (Index("ix_user_activity_at_user", "at", "user_id"),)


class SnapshotLog(Base):
    """Every computed snapshot of the last 24 h: the id sequence, the peak, the history."""

    __tablename__ = "snapshot_log"

    snapshot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    active_current: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_snapshot_log_computed_at", "computed_at"),)


class AlertEvent(Base):
    """One firing of an alert rule: open while `resolved_at` is null, closed once when it resolves."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)  # the measured value when it fired, exact as text
    threshold: Mapped[str] = mapped_column(Text)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fired_snapshot_id: Mapped[int] = mapped_column(BigInteger)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_snapshot_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        Index("ix_alert_events_fired_at", "fired_at"),
        # At most one open firing per rule, whatever the number of instances evaluating.
        Index(
            "uq_alert_events_open_rule",
            "rule",
            unique=True,
            postgresql_where=resolved_at.is_(None),
            sqlite_where=resolved_at.is_(None),
        ),
    )


class SidecarLease(Base):
    """A job one instance at a time does (`snapshots`): its holder, until when, and its epoch.

    `epoch` grows with every new holder; the snapshot insert checks it, so a former holder that
    was paused or cut off cannot write once another instance has taken over.
    """

    __tablename__ = "sidecar_lease"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str | None] = mapped_column(Text, nullable=True)
    epoch: Mapped[int] = mapped_column(BigInteger, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Deployment(Base):
    """This database's identity, made once with the schema; every Redis key and channel carries it."""

    __tablename__ = "deployment"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
