"""The contract's tables: `transactions`, `content_views`, `user_activity`, and the catalogue `content`.

Column names and meanings are public: the platform may write them directly. Columns the sidecar
adds all have defaults, so such writes keep working. Triggers keep the derived tables
(`server.storage.models.derived`) and canonical time text (SQLite) for every write.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.models.base import Base, BigId
from server.storage.types import UtcDateTime

STATUSES = ("pending", "completed", "failed")


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

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
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

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_id: Mapped[str | None] = mapped_column(Text, nullable=True, unique=True)

    __table_args__ = (Index("ix_user_activity_at_user", "at", "user_id"),)


class Content(Base):
    """The catalogue (ours): what a `content_id` is called and where it belongs. Content without a
    row here is shown by its id; a row's title or category may be null (unknown)."""

    __tablename__ = "content"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    category: Mapped[str | None] = mapped_column(Text, nullable=True)
