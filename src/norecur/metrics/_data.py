"""The input of every signal: plain rows, read from the store or built from postmortems.

The signals never touch the database or a pydantic object per row: :func:`load_signal_data`
reads the store with four SELECTs (joins and one aggregate, never a query per row) into frozen
slotted dataclasses, and :meth:`SignalData.from_postmortems` builds the same rows from
:class:`norecur.model.Postmortem` objects, for tests and for running without a database.

Conventions both constructors follow, so they give the same rows for the same postmortems:

- milestone times are aware UTC datetimes; a time without an offset is read in the incident's
  zone, and a time with neither is taken as UTC;
- ``resolved_local_date`` is the date of ``resolved`` in the incident's zone (the store keeps it
  in a column; business days count from it);
- ``history_closed`` is the date, in the incident's zone (UTC when it has none), of the earliest
  status change to ``done`` or ``wont-do`` in the follow-up's status history;
- rows are ordered by incident id, then by position within the postmortem.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, make_dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.engine import Connection, Engine

from norecur.model import FollowUpStatus, Postmortem
from norecur.store import (
    ApparatusUpdateRow,
    ContributingFactorRow,
    FollowUpRow,
    FollowUpStatusChange,
    IncidentRow,
    PostmortemRow,
    Team,
)

__all__ = [
    "ApparatusRecord",
    "FollowUpRecord",
    "IncidentRecord",
    "PostmortemRecord",
    "SignalData",
    "load_signal_data",
]

_R = TypeVar("_R")

_CLOSING = (FollowUpStatus.DONE.value, FollowUpStatus.WONT_DO.value)
"""Statuses that close a follow-up; the first change to one of them dates the closure."""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An incident: who owns it, how severe, and its milestones as aware UTC datetimes."""

    incident_id: str
    team: str | None
    severity: str | None
    timezone: str | None
    """The incident's IANA zone; local dates (quarters, business days) are taken in it."""
    impact_started: datetime | None
    detected: datetime | None
    acknowledged: datetime | None
    mitigated: datetime | None
    resolved: datetime | None
    resolved_local_date: date | None


@dataclass(frozen=True, slots=True)
class PostmortemRecord:
    """The structured fields of a postmortem that the signals read."""

    incident_id: str
    status: str | None
    published: date | None
    primary_cause: str | None
    subcategory: str | None
    contributing: tuple[str | None, ...]
    """The class of each contributing factor, in order (None where a factor has no class)."""
    eval_gap: bool | None


@dataclass(frozen=True, slots=True)
class FollowUpRecord:
    """A follow-up, with its postmortem's team and publication date alongside."""

    incident_id: str
    team: str | None
    published: date | None
    """The publication date of the follow-up's postmortem."""
    key: str | None
    owner: str | None
    due: date | None
    status: str | None
    type: str | None
    apparatus_kind: str | None
    closed: date | None
    """The ``closed`` date written on the follow-up."""
    history_closed: date | None
    """The first date the status history shows it reaching ``done`` or ``wont-do``."""
    reason: str | None


@dataclass(frozen=True, slots=True)
class ApparatusRecord:
    """An entry of a postmortem's ``apparatus_updates``."""

    incident_id: str
    kind: str | None
    published: date | None
    """The publication date of the postmortem that lists it."""
    follow_up_key: str | None
    """The follow-up that delivers this update, if the entry names one."""


@dataclass(frozen=True, slots=True)
class SignalData:
    """Everything the signals read, as tuples of rows ordered by incident id."""

    incidents: tuple[IncidentRecord, ...] = ()
    postmortems: tuple[PostmortemRecord, ...] = ()
    follow_ups: tuple[FollowUpRecord, ...] = ()
    apparatus_updates: tuple[ApparatusRecord, ...] = ()

    @classmethod
    def from_postmortems(
        cls,
        items: Iterable[Postmortem],
        *,
        history: Mapping[tuple[str, str], Iterable[tuple[str, datetime]]] | None = None,
    ) -> SignalData:
        """Rows for ``items``, each postmortem with its incident.

        ``history`` maps ``(incident id, follow-up id)`` to that follow-up's status changes as
        ``(status, when)`` pairs (``when`` aware, or naive UTC), as the store's status history
        would hold them. Raises ``ValueError`` for a postmortem without an id or a repeated id.
        """
        history = history or {}
        incidents: list[IncidentRecord] = []
        postmortems: list[PostmortemRecord] = []
        follow_ups: list[FollowUpRecord] = []
        apparatus: list[ApparatusRecord] = []
        ordered = sorted(items, key=_postmortem_id)
        seen: set[str] = set()
        for pm in ordered:
            incident_id = _postmortem_id(pm)
            if incident_id in seen:
                raise ValueError(f"two postmortems have the id {incident_id!r}")
            seen.add(incident_id)
            milestones = pm.incident
            zone = _zone(milestones.timezone)
            incidents.append(
                IncidentRecord(
                    incident_id=incident_id,
                    team=pm.team,
                    severity=pm.severity,
                    timezone=milestones.timezone,
                    impact_started=_utc(milestones.impact_started, zone),
                    detected=_utc(milestones.detected, zone),
                    acknowledged=_utc(milestones.acknowledged, zone),
                    mitigated=_utc(milestones.mitigated, zone),
                    resolved=_utc(milestones.resolved, zone),
                    resolved_local_date=milestones.local_date("resolved"),
                )
            )
            cause = pm.cause
            published = pm.dates.published
            postmortems.append(
                PostmortemRecord(
                    incident_id=incident_id,
                    status=_value(pm.status),
                    published=published,
                    primary_cause=_value(cause.primary) if cause else None,
                    subcategory=cause.subcategory if cause else None,
                    contributing=tuple(_value(f.class_) for f in cause.contributing)
                    if cause
                    else (),
                    eval_gap=pm.eval_delta.gap if pm.eval_delta else None,
                )
            )
            for follow_up in pm.follow_ups:
                changes = history.get((incident_id, follow_up.id or ""), ())
                firsts = [
                    _aware_utc(when) for status, when in changes if _value(status) in _CLOSING
                ]
                follow_ups.append(
                    FollowUpRecord(
                        incident_id=incident_id,
                        team=pm.team,
                        published=published,
                        key=follow_up.id,
                        owner=follow_up.owner,
                        due=follow_up.due,
                        status=_value(follow_up.status),
                        type=_value(follow_up.type),
                        apparatus_kind=_value(follow_up.apparatus_kind),
                        closed=follow_up.closed,
                        history_closed=min(firsts).astimezone(zone).date() if firsts else None,
                        reason=follow_up.reason,
                    )
                )
            apparatus.extend(
                ApparatusRecord(
                    incident_id=incident_id,
                    kind=_value(update.kind),
                    published=published,
                    follow_up_key=update.follow_up,
                )
                for update in pm.apparatus_updates
            )
        return cls(tuple(incidents), tuple(postmortems), tuple(follow_ups), tuple(apparatus))

    def for_team(self, team: str | None) -> SignalData:
        """The rows of one team only (``None``: the rows whose team is not set)."""
        incidents = tuple(i for i in self.incidents if i.team == team)
        ids = {i.incident_id for i in incidents}
        return SignalData(
            incidents,
            tuple(p for p in self.postmortems if p.incident_id in ids),
            tuple(f for f in self.follow_ups if f.team == team),
            tuple(a for a in self.apparatus_updates if a.incident_id in ids),
        )


def load_signal_data(source: Engine | Connection | Any) -> SignalData:
    """Read the store's tables into :class:`SignalData` with four SELECTs.

    ``source`` is an :class:`~sqlalchemy.engine.Engine`, a
    :class:`~sqlalchemy.engine.Connection` or an ORM ``Session``. Given an engine on
    PostgreSQL, the reads run in one REPEATABLE READ transaction, so they see one snapshot
    while a sync writes.
    """
    if isinstance(source, Engine):
        with source.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            return load_signal_data(connection)
    with _gc_paused():
        return _load(source)


def _fast_constructor(cls: type[_R]) -> Callable[..., _R]:
    """A positional constructor for the frozen slotted dataclass ``cls``, about five times as
    fast as its own ``__init__`` (which goes through ``object.__setattr__`` once per field).

    It builds a mutable twin with the same slots, then sets ``__class__`` to ``cls``: CPython
    allows that between classes with identical layouts, and the object is then an ordinary,
    frozen ``cls`` (equal to, and hashing like, one made by ``cls(...)``). Only the loader uses
    it, where 300,000 follow-ups make the difference a third of a second.
    """
    twin = make_dataclass(
        f"_{cls.__name__}Draft", [(f.name, f.type) for f in fields(cast(Any, cls))], slots=True
    )
    if twin.__slots__ != getattr(cls, "__slots__", None):  # pragma: no cover - a coding error
        raise TypeError(f"{cls.__name__} must be a slotted dataclass")

    def construct(*values: Any) -> _R:
        record = twin(*values)
        record.__class__ = cls
        return cast(_R, record)

    return construct


_new_incident = _fast_constructor(IncidentRecord)
_new_postmortem = _fast_constructor(PostmortemRecord)
_new_follow_up = _fast_constructor(FollowUpRecord)
_new_apparatus = _fast_constructor(ApparatusRecord)


def _load(db: Any) -> SignalData:
    i, t, p = IncidentRow.__table__.c, Team.__table__.c, PostmortemRow.__table__.c
    incident_rows = db.execute(
        select(
            p.id,
            i.incident_id,
            t.name,
            i.severity,
            i.timezone,
            *(
                _instant(column)
                for column in (
                    i.impact_started,
                    i.detected,
                    i.acknowledged,
                    i.mitigated,
                    i.resolved,
                )
            ),
            i.resolved_local_date,
            p.status,
            p.published,
            p.primary_cause,
            p.subcategory,
            p.eval_gap,
        )
        .select_from(IncidentRow.__table__)
        .outerjoin(Team.__table__, t.id == i.team_id)
        .outerjoin(PostmortemRow.__table__, p.incident_fk == i.id)
    ).all()
    # Sorted here, not in SQL: PostgreSQL would order by its collation, Python by code point.
    incident_rows.sort(key=lambda row: row[1])

    c = ContributingFactorRow.__table__.c
    contributing: dict[int, list[str | None]] = {}
    for postmortem_fk, cause_class in db.execute(
        select(c.postmortem_fk, c.cause_class).order_by(c.postmortem_fk, c.position, c.id)
    ).all():
        contributing.setdefault(postmortem_fk, []).append(cause_class)

    incidents: list[IncidentRecord] = []
    postmortems: list[PostmortemRecord] = []
    # postmortem id -> (incident id, team, published, zone, order)
    owners: dict[int, tuple[str, str | None, date | None, tzinfo, int]] = {}
    for order, row in enumerate(incident_rows):
        (pm_id, incident_id, team, severity, zone_name, *times, resolved_local) = row[:11]
        status, published, primary, subcategory, eval_gap = row[11:]
        incidents.append(
            _new_incident(
                incident_id,
                team,
                severity,
                zone_name,
                *(_aware_utc(value) if value is not None else None for value in times),
                resolved_local,
            )
        )
        if pm_id is not None:
            postmortems.append(
                _new_postmortem(
                    incident_id,
                    status,
                    published,
                    primary,
                    subcategory,
                    tuple(contributing.get(pm_id, ())),
                    eval_gap,
                )
            )
            owners[pm_id] = (incident_id, team, published, _zone(zone_name), order)

    h = FollowUpStatusChange.__table__.c
    first_closed = (
        select(h.follow_up_fk, _instant(func.min(h.changed_at)).label("first_closed"))
        .where(h.status.in_(_CLOSING))
        .group_by(h.follow_up_fk)
        .subquery()
    )
    f = FollowUpRow.__table__.c
    follow_up_rows = db.execute(
        select(
            f.postmortem_fk,
            f.key,
            f.owner,
            f.due,
            f.status,
            f.type,
            f.apparatus_kind,
            f.closed,
            first_closed.c.first_closed,
            f.reason,
        )
        .select_from(FollowUpRow.__table__)
        .outerjoin(first_closed, first_closed.c.follow_up_fk == f.id)
        .order_by(f.postmortem_fk, f.position)
    ).all()
    follow_ups: list[FollowUpRecord] = []
    follow_up_order: list[int] = []
    for (
        pm_fk,
        key,
        owner,
        due,
        status,
        kind,
        apparatus_kind,
        closed,
        first,
        reason,
    ) in follow_up_rows:
        owner_of = owners.get(pm_fk)
        if owner_of is None:  # its postmortem was written after the first SELECT read them
            continue
        incident_id, team, published, zone, order = owner_of
        follow_up_order.append(order)
        follow_ups.append(
            _new_follow_up(
                incident_id,
                team,
                published,
                key,
                owner,
                due,
                status,
                kind,
                apparatus_kind,
                closed,
                _aware_utc(first).astimezone(zone).date() if first is not None else None,
                reason,
            )
        )

    a = ApparatusUpdateRow.__table__.c
    updates: list[ApparatusRecord] = []
    update_order: list[int] = []
    for pm_fk, kind, follow_up_key in db.execute(
        select(a.postmortem_fk, a.kind, a.follow_up_key).order_by(a.postmortem_fk, a.position)
    ).all():
        if pm_fk not in owners:
            continue
        incident_id, _team, published, _zone_info, order = owners[pm_fk]
        update_order.append(order)
        updates.append(_new_apparatus(incident_id, kind, published, follow_up_key))

    return SignalData(
        tuple(incidents),
        tuple(postmortems),
        _in_incident_order(follow_ups, follow_up_order),
        _in_incident_order(updates, update_order),
    )


def _in_incident_order(records: list[_R], orders: list[int]) -> tuple[_R, ...]:
    """``records`` (in postmortem-row order) reordered by their incident's order, stably.

    Postmortem rows are numbered as sync inserted them, which need not follow incident ids.
    """
    if all(earlier <= later for earlier, later in pairwise(orders)):
        return tuple(records)
    ranked = sorted(range(len(records)), key=orders.__getitem__)
    return tuple(records[index] for index in ranked)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Build many small objects without the cyclic GC rescanning them (they hold no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _utc(value: datetime | None, zone: tzinfo) -> datetime | None:
    """``value`` as aware UTC; a naive value is read in ``zone``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _instant(column: Any) -> Any:
    """``column`` read as the driver gives it: a datetime (PostgreSQL) or SQLite's UTC text.

    :func:`_aware_utc` then does what the store's ``UtcDateTime`` does when reading, at a
    fraction of the cost per row (``datetime.replace`` is slow enough to matter at 300,000).
    """
    return type_coerce(column, String)


def _aware_utc(value: datetime | str) -> datetime:
    """``value`` as an aware UTC datetime; naive values and SQLite's text are UTC already."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:  # the text carries its own offset
            value = datetime.fromisoformat(value)
    zone = value.tzinfo
    if zone is UTC:
        return value
    if zone is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@lru_cache(maxsize=512)
def _zone(name: str | None) -> tzinfo:
    """The IANA zone ``name``, or UTC when unset or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return UTC


def _value(item: Any) -> Any:
    """An enum's value, anything else as it is."""
    return getattr(item, "value", item)


def _postmortem_id(pm: Postmortem) -> str:
    if not pm.id:
        raise ValueError(f"a postmortem without an id cannot be counted (title: {pm.title!r})")
    return pm.id
