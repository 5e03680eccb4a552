"""The store's tables: an index of the postmortem files, plus what arrives through the API.

The files stay the truth. Every row that comes from a file carries the file's path and content
hash, so a re-sync can tell what changed, and nothing here disagrees with a file silently.

Times are stored as UTC (timezone-aware columns); the incident's own IANA zone is kept beside
them so local dates (for business-day counts) can be recovered exactly. Every backend reads them
back as aware UTC datetimes (:class:`UtcDateTime`); SQLite, which has no zone type, included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ApparatusUpdateRow",
    "Base",
    "ContributingFactorRow",
    "FollowUpRow",
    "FollowUpStatusChange",
    "IncidentRow",
    "PostmortemRow",
    "SourceFile",
    "Team",
    "UtcDateTime",
]

# Deterministic constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, stored as UTC and read back as an aware UTC datetime on every backend.

    PostgreSQL keeps it as ``timestamp with time zone``; SQLite, which has no zone type, keeps
    the UTC wall time, and this type puts the zone back when reading. An aware value is converted
    to UTC before it is written; a naive one is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Team(Base):
    """A team that owns incidents and follow-ups."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class IncidentRow(Base):
    """An incident: from a postmortem file, or opened through the API before any postmortem."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(200), unique=True)
    """The incident id as people write it (INC-2026-0512)."""
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(50))
    timezone: Mapped[str | None] = mapped_column(String(64))
    impact_started: Mapped[datetime | None] = mapped_column(UtcDateTime())
    detected: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged: Mapped[datetime | None] = mapped_column(UtcDateTime())
    mitigated: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_local_date: Mapped[date | None] = mapped_column(Date)
    """The resolution date in the incident's zone: business days count from it."""
    source: Mapped[str] = mapped_column(String(20), default="file")
    """``file`` (indexed from a postmortem file) or ``api``."""

    team: Mapped[Team | None] = relationship()
    postmortem: Mapped[PostmortemRow | None] = relationship(
        back_populates="incident", cascade="all, delete-orphan", uselist=False
    )


class PostmortemRow(Base):
    """The structured fields of one postmortem file (prose stays in the file)."""

    __tablename__ = "postmortems"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_fk: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    path: Mapped[str | None] = mapped_column(String(1000), unique=True)
    """Path of the file relative to the synced root (None for API-only postmortems)."""
    content_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(20))
    written: Mapped[date | None] = mapped_column(Date)
    published: Mapped[date | None] = mapped_column(Date)
    primary_cause: Mapped[str | None] = mapped_column(String(20))
    subcategory: Mapped[str | None] = mapped_column(String(200))
    sessions: Mapped[int | None] = mapped_column(BigInteger)
    users: Mapped[int | None] = mapped_column(BigInteger)
    tenants: Mapped[int | None] = mapped_column(BigInteger)
    requests: Mapped[int | None] = mapped_column(BigInteger)
    duration_minutes: Mapped[float | None] = mapped_column(Float)
    sla_breach: Mapped[bool | None] = mapped_column(Boolean)
    eval_gap: Mapped[bool | None] = mapped_column(Boolean)
    eval_cases_to_add: Mapped[int | None] = mapped_column(Integer)
    indexed_at: Mapped[datetime] = mapped_column(UtcDateTime())

    incident: Mapped[IncidentRow] = relationship(back_populates="postmortem")
    follow_ups: Mapped[list[FollowUpRow]] = relationship(
        back_populates="postmortem", cascade="all, delete-orphan", order_by="FollowUpRow.position"
    )
    contributing: Mapped[list[ContributingFactorRow]] = relationship(
        cascade="all, delete-orphan", order_by="ContributingFactorRow.position"
    )
    apparatus_updates: Mapped[list[ApparatusUpdateRow]] = relationship(
        cascade="all, delete-orphan", order_by="ApparatusUpdateRow.position"
    )


class ContributingFactorRow(Base):
    __tablename__ = "contributing_factors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_fk: Mapped[int] = mapped_column(
        ForeignKey("postmortems.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    cause_class: Mapped[str | None] = mapped_column(String(20))
    subcategory: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class FollowUpRow(Base):
    """A follow-up action. ``key`` is its id within the postmortem (``a``, ``b``...);
    ``position`` its 0-based index in the file (the same holds for the other per-postmortem
    lists: contributing factors and apparatus updates)."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("postmortem_fk", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_fk: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(20))
    type: Mapped[str | None] = mapped_column(String(20))
    apparatus_kind: Mapped[str | None] = mapped_column(String(20))
    ticket: Mapped[str | None] = mapped_column(String(200))
    closed: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)

    postmortem: Mapped[PostmortemRow] = relationship(back_populates="follow_ups")
    history: Mapped[list[FollowUpStatusChange]] = relationship(
        back_populates="follow_up",
        cascade="all, delete-orphan",
        order_by="FollowUpStatusChange.changed_at",
    )


class FollowUpStatusChange(Base):
    """One change of a follow-up's status: when, to what, and how we know."""

    __tablename__ = "follow_up_status_history"
    __table_args__ = (Index("ix_follow_up_status_history_follow_up", "follow_up_fk", "changed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    follow_up_fk: Mapped[int] = mapped_column(ForeignKey("follow_ups.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(100))
    """``git:<sha>`` (a commit changed it), ``file:closed`` (the follow-up's closed date),
    ``sync`` (a sync saw it changed, at the sync's time), ``api``. See :mod:`norecur.store._sync`."""

    follow_up: Mapped[FollowUpRow] = relationship(back_populates="history")


class ApparatusUpdateRow(Base):
    __tablename__ = "apparatus_updates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_fk: Mapped[int] = mapped_column(
        ForeignKey("postmortems.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(20))
    change: Mapped[str | None] = mapped_column(Text)
    follow_up_key: Mapped[str | None] = mapped_column(String(100))


class SourceFile(Base):
    """A file sync has seen: what it held last time, and whether it parsed."""

    __tablename__ = "source_files"
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    """Set when the current content fails to parse; the indexed version is the last good one."""
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime())
