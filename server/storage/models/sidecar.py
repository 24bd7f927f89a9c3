"""The sidecar's own tables: the snapshot log, alert firings, the lease, the deployment id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.models.base import Base, BigId
from server.storage.types import UtcDateTime


class SnapshotLog(Base):
    """Every computed snapshot of the last 24 h: the id sequence, the peak, the history."""

    __tablename__ = "snapshot_log"

    snapshot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    active_current: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_snapshot_log_computed_at", "computed_at"),
        Index("ix_snapshot_log_active_current", "active_current", "computed_at"),  # the 24 h peak
    )


class AlertEvent(Base):
    """One firing of an alert rule: open while `resolved_at` is null, closed once when it resolves."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
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
