"""Every table of the database, declared once: Alembic autogenerate against a migrated database
proposes nothing (`tests/storage/test_schema_dump.py`).

- `contract`: the contract's tables (`transactions`, `content_views`, `user_activity`, and the
  catalogue `content`), which the platform may also write directly;
- `derived`: what the triggers keep from them (rollups, snapshot totals, per-day active users,
  late activity, and their configuration; their triggers are in `server/storage/sql/`;
- `sidecar`: the sidecar's own state (snapshot log, alert firings, lease, deployment id).
"""

from __future__ import annotations

from server.storage.models.base import Base, include_object_for
from server.storage.models.contract import STATUSES, Content, ContentView, Transaction, UserActivity
from server.storage.models.derived import (
    ActiveDayCount,
    ActiveDaysConfig,
    ActiveUserDay,
    ActiveUserDayDelta,
    LateActivity,
    RollupContentDay,
    RollupContentHour,
    RollupSales15m,
    RollupViews15m,
    SnapshotTotals,
)
from server.storage.models.sidecar import AlertEvent, Deployment, SidecarLease, SnapshotLog

__all__ = [
    "STATUSES",
    "ActiveDayCount",
    "ActiveDaysConfig",
    "ActiveUserDay",
    "ActiveUserDayDelta",
    "AlertEvent",
    "Base",
    "Content",
    "ContentView",
    "Deployment",
    "LateActivity",
    "RollupContentDay",
    "RollupContentHour",
    "RollupSales15m",
    "RollupViews15m",
    "SidecarLease",
    "SnapshotLog",
    "SnapshotTotals",
    "Transaction",
    "UserActivity",
    "include_object_for",
]
