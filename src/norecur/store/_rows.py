"""One parsed postmortem file as the rows it contributes to the store, checked to fit them.

A file is indexed whole or not at all: a contract issue (a field the parser left out of the
model), a missing id, a milestone whose instant cannot be known (no offset and no zone), or a
value too long for its column refuses the file with the field and line to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table

from norecur.document import FieldPath, ParsedPostmortem, dotted
from norecur.model import Milestones, Postmortem
from norecur.store._tables import (
    ApparatusUpdateRow,
    ContributingFactorRow,
    FollowUpRow,
    IncidentRow,
    PostmortemRow,
    Team,
)

__all__ = ["FileRows", "Refused", "file_rows", "follow_up_statuses", "match_keys", "midnight"]

MILESTONE_COLUMNS = (
    "impact_started",
    "detected",
    "acknowledged",
    "mitigated",
    "resolved",
    "closed",
)
FOLLOW_UP_COLUMNS = (
    "position",
    "key",
    "action",
    "owner",
    "due",
    "status",
    "type",
    "apparatus_kind",
    "ticket",
    "closed",
    "reason",
)
CONTRIBUTING_COLUMNS = ("position", "cause_class", "subcategory", "description")
APPARATUS_COLUMNS = ("position", "kind", "change", "follow_up_key")


class Refused(Exception):
    """The file cannot be indexed; ``field`` and ``line`` say where to fix it."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


@dataclass(slots=True)
class FileRows:
    """What one file puts in the store (ids and foreign keys are filled in by sync)."""

    incident_id: str
    team: str | None
    incident: dict[str, Any]
    postmortem: dict[str, Any]
    follow_ups: list[dict[str, Any]]
    follow_up_keys: list[str]
    """Each follow-up's identity within the file (see :func:`match_keys`), in file order."""
    contributing: list[dict[str, Any]]
    apparatus: list[dict[str, Any]]
    zone: tzinfo | None


def match_keys(keys: Sequence[str | None]) -> list[str]:
    """The identity of each follow-up within its file, matched across versions of the file:
    its ``id``; a repeated id gets ``#2``, ``#3``... by occurrence; no id, its position."""
    seen: dict[str, int] = {}
    identities: list[str] = []
    for position, key in enumerate(keys):
        if key is None:
            identities.append(f"\x00@{position}")
            continue
        count = seen.get(key, 0) + 1
        seen[key] = count
        identities.append(key if count == 1 else f"{key}\x00#{count}")
    return identities


def midnight(day: date, zone: tzinfo | None) -> datetime:
    """00:00 of ``day`` in ``zone`` (UTC when the zone is unknown), as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=zone or UTC).astimezone(UTC)


def follow_up_statuses(
    parsed: ParsedPostmortem,
) -> dict[str, tuple[str, date | None]] | None:
    """Each follow-up's ``(status, closed date)`` by identity (those with a status), or None
    when the follow-ups did not parse."""
    if "follow_ups" in parsed.invalid_fields:
        return None
    follow_ups = parsed.postmortem.follow_ups
    keys = match_keys([follow_up.id for follow_up in follow_ups])
    return {
        key: (follow_up.status.value, follow_up.closed)
        for key, follow_up in zip(keys, follow_ups, strict=True)
        if follow_up.status is not None
    }


def file_rows(parsed: ParsedPostmortem) -> FileRows:
    """The rows of ``parsed``; raises :class:`Refused` when the file cannot be indexed."""
    if parsed.issues:
        issue = parsed.issues[0]
        more = len(parsed.issues) - 1
        suffix = f" (and {more} more issue{'s' if more > 1 else ''})" if more else ""
        raise Refused(
            f"{issue.message}{suffix}; the file is indexed once it meets the contract",
            issue.dotted,
            issue.line,
        )
    pm = parsed.postmortem
    if pm.id is None:
        raise Refused("no id: a postmortem needs an id to be indexed", "id", 1)
    incident = _incident(parsed, pm.incident)
    follow_ups = [
        {
            "position": position,
            "key": item.id,
            "action": item.action,
            "owner": item.owner,
            "due": item.due,
            "status": _value(item.status),
            "type": _value(item.type),
            "apparatus_kind": _value(item.apparatus_kind),
            "ticket": item.ticket,
            "closed": item.closed,
            "reason": item.reason,
        }
        for position, item in enumerate(pm.follow_ups)
    ]
    contributing = [
        {
            "position": position,
            "cause_class": _value(factor.class_),
            "subcategory": factor.subcategory,
            "description": factor.description,
        }
        for position, factor in enumerate(pm.cause.contributing if pm.cause else ())
    ]
    apparatus = [
        {
            "position": position,
            "kind": _value(update.kind),
            "change": update.change,
            "follow_up_key": update.follow_up,
        }
        for position, update in enumerate(pm.apparatus_updates)
    ]
    rows = FileRows(
        incident_id=pm.id,
        team=pm.team,
        incident=incident,
        postmortem=_postmortem(pm),
        follow_ups=follow_ups,
        follow_up_keys=match_keys([item.id for item in pm.follow_ups]),
        contributing=contributing,
        apparatus=apparatus,
        zone=pm.incident.zone(),
    )
    _check_fits(parsed, rows)
    return rows


def _value(member: Enum | None) -> Any:
    return None if member is None else member.value


def _incident(parsed: ParsedPostmortem, milestones: Milestones) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": parsed.postmortem.title,
        "severity": parsed.postmortem.severity,
        "timezone": milestones.timezone,
        "resolved_local_date": milestones.local_date("resolved"),
    }
    for name in MILESTONE_COLUMNS:
        moment: datetime | None = getattr(milestones, name)
        if moment is None:
            values[name] = None
            continue
        aware = milestones.aware(moment)
        if aware is None:
            raise Refused(
                "time without an offset, and incident.timezone is not set: the instant cannot be "
                "known; set incident.timezone or write the offset",
                f"incident.{name}",
                parsed.line_of(("incident", name)),
            )
        values[name] = aware.astimezone(UTC)
    return values


def _postmortem(pm: Postmortem) -> dict[str, Any]:
    cause, blast, delta = pm.cause, pm.blast_radius, pm.eval_delta
    return {
        "status": _value(pm.status),
        "written": pm.dates.written,
        "published": pm.dates.published,
        "primary_cause": _value(cause.primary) if cause else None,
        "subcategory": cause.subcategory if cause else None,
        "sessions": blast.sessions if blast else None,
        "users": blast.users if blast else None,
        "tenants": blast.tenants if blast else None,
        "requests": blast.requests if blast else None,
        "duration_minutes": blast.duration_minutes if blast else None,
        "sla_breach": blast.sla_breach if blast else None,
        "eval_gap": delta.gap if delta else None,
        "eval_cases_to_add": delta.cases_to_add if delta else None,
    }


def _limits(table: Table) -> dict[str, tuple[str, int]]:
    """Column name -> ("chars", max length) or ("int", max value) for bounded columns."""
    limits: dict[str, tuple[str, int]] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, String) and kind.length:
            limits[column.name] = ("chars", kind.length)
        elif isinstance(kind, BigInteger):
            limits[column.name] = ("int", 2**63 - 1)
        elif isinstance(kind, Integer):
            limits[column.name] = ("int", 2**31 - 1)
    return limits


_INCIDENT = _limits(IncidentRow.__table__)  # type: ignore[arg-type]
_POSTMORTEM = _limits(PostmortemRow.__table__)  # type: ignore[arg-type]
_FOLLOW_UP = _limits(FollowUpRow.__table__)  # type: ignore[arg-type]
_CONTRIBUTING = _limits(ContributingFactorRow.__table__)  # type: ignore[arg-type]
_APPARATUS = _limits(ApparatusUpdateRow.__table__)  # type: ignore[arg-type]
_TEAM = _limits(Team.__table__)  # type: ignore[arg-type]

# Where each stored column comes from in the front matter, to point at the line to fix.
_INCIDENT_FIELDS = {
    "title": ("title",),
    "severity": ("severity",),
    "timezone": ("incident", "timezone"),
}
_POSTMORTEM_FIELDS = {
    "subcategory": ("cause", "subcategory"),
    "sessions": ("blast_radius", "sessions"),
    "users": ("blast_radius", "users"),
    "tenants": ("blast_radius", "tenants"),
    "requests": ("blast_radius", "requests"),
    "eval_cases_to_add": ("eval_delta", "cases_to_add"),
}


def _check_fits(parsed: ParsedPostmortem, rows: FileRows) -> None:
    _check(parsed, {"incident_id": rows.incident_id}, _INCIDENT, lambda _c: ("id",))
    _check(parsed, {"name": rows.team}, _TEAM, lambda _c: ("team",))
    _check(parsed, rows.incident, _INCIDENT, lambda c: _INCIDENT_FIELDS.get(c, ("incident", c)))
    _check(parsed, rows.postmortem, _POSTMORTEM, lambda c: _POSTMORTEM_FIELDS.get(c, (c,)))
    for index, row in enumerate(rows.follow_ups):
        _check(
            parsed, row, _FOLLOW_UP, lambda c, i=index: ("follow_ups", i, c if c != "key" else "id")
        )
    for index, row in enumerate(rows.contributing):
        _check(parsed, row, _CONTRIBUTING, lambda c, i=index: ("cause", "contributing", i, c))
    for index, row in enumerate(rows.apparatus):
        _check(
            parsed,
            row,
            _APPARATUS,
            lambda c, i=index: ("apparatus_updates", i, "follow_up" if c == "follow_up_key" else c),
        )


def _check(
    parsed: ParsedPostmortem,
    row: dict[str, Any],
    limits: dict[str, tuple[str, int]],
    where: Callable[[str], FieldPath],
) -> None:
    for column, value in row.items():
        limit = limits.get(column)
        if limit is None or value is None:
            continue
        kind, bound = limit
        if kind == "chars" and len(value) > bound:
            message = f"{len(value)} characters, over the store's limit of {bound}"
        elif kind == "int" and isinstance(value, int) and value > bound:
            message = f"{value} is over the store's limit of {bound}"
        else:
            continue
        path = where(column)
        raise Refused(message, dotted(path), parsed.line_of(path))
