"""Incident intake: payload readers that turn one alert webhook payload into one :class:`Incident`.

A payload reader is a pure decoder: a parsed JSON payload in, an :class:`Incident` out; it knows
nothing of HTTP or of files. Its ``name`` is what ``norecur incident open --format`` accepts and
its docstring is its user doc. :func:`open_incident` owns the rest: reading the file (at most
:data:`MAX_PAYLOAD_BYTES`), parsing JSON, detecting the format, and turning anything a reader
trips over into an :class:`IncidentError` that names the file and the JSON field.

Times become nanoseconds since the Unix epoch (UTC). The same payload always gives the same
incident, id included.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, DecimalException
from types import MappingProxyType
from typing import Any, ClassVar

import orjson

from norecur.errors import NorecurError
from norecur.investigate._incident import Incident

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PAYLOAD_READERS",
    "IncidentError",
    "PayloadReader",
    "detect",
    "load_incident",
    "open_incident",
    "severity_rank",
]

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
"""A payload larger than this (16 MiB) is refused unread: Alertmanager groups of thousands of
alerts stay well below it, and a runaway file cannot take the memory of the machine."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""An incident id: letters, digits, ``.``, ``_``, ``:``, ``-``; safe in a file name and a URL."""
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_INT64_MAX = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,12}))?)?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_EPOCH_UNITS = (
    (Decimal("1e11"), 1_000_000_000),
    (Decimal("1e14"), 1_000_000),
    (Decimal("1e17"), 1_000),
)
"""An epoch number's unit from its size: below 1e11 seconds (until the year 5138), below 1e14
milliseconds, below 1e17 microseconds, else nanoseconds."""
_GO_ZERO_TIME = "0001-01-01T00:00:00"
"""Go's zero time, which Alertmanager writes as ``endsAt`` of an alert with no end."""


class IncidentError(NorecurError):
    """An alert payload or an incident file cannot be read: not JSON, too large, an unknown shape,
    or one field is missing or malformed (``field`` holds its JSON path, ``alerts[2].startsAt``)."""


# --------------------------------------------------------------------------- typed access


def _kind(value: Any) -> str:
    """The JSON name of ``value``'s type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    """A short quotation of ``value`` for an error message (one_line escapes what is left)."""
    text = repr(value) if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= 66 else text[:60] + "..." + text[-3:]


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IncidentError(f"expected an object, got {_kind(value)}", field=field)
    return value


def _array(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise IncidentError(f"expected an array, got {_kind(value)}", field=field)
    return value


def _member(obj: Mapping[str, Any], key: str, prefix: str) -> Any:
    """``obj[key]``; a missing key is an error naming the field."""
    if key not in obj:
        raise IncidentError("missing", field=_join(prefix, key))
    return obj[key]


def _text(obj: Mapping[str, Any], key: str, prefix: str, *, required: bool = False) -> str | None:
    """``obj[key]`` as a non-blank string; absent, null or blank is None (an error if required)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise IncidentError(
                "missing" if key not in obj else "is null", field=_join(prefix, key)
            )
        return None
    if not isinstance(value, str):
        raise IncidentError(f"expected a string, got {_kind(value)}", field=_join(prefix, key))
    if not value.strip():
        if required:
            raise IncidentError("is blank", field=_join(prefix, key))
        return None
    return value


def _optional_object(obj: Mapping[str, Any], key: str, prefix: str) -> dict[str, Any]:
    """``obj[key]`` as an object; absent or null is an empty one."""
    value = obj.get(key)
    return {} if value is None else _object(value, _join(prefix, key))


def _string_map(value: Any, field: str) -> dict[str, str]:
    """An object whose every value is a string (Alertmanager labels and annotations)."""
    mapping = _object(value, field)
    for key, item in mapping.items():
        if not isinstance(item, str):
            raise IncidentError(f"expected a string, got {_kind(item)}", field=f"{field}.{key}")
    return mapping


def _checked_id(value: str, field: str) -> str:
    if not _ID.fullmatch(value):
        raise IncidentError(
            f"{_show(value)} is not an incident id (letters, digits, '.', '_', ':', '-'; "
            "at most 128, starting with a letter or digit)",
            field=field,
        )
    return value


def _hashed_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}-{digest[:16]}"


# --------------------------------------------------------------------------- times


def _in_range(ns: int, raw: Any, field: str) -> int:
    if not 0 <= ns <= _INT64_MAX:
        raise IncidentError(f"{_show(raw)} is before 1970 or after 2262", field=field)
    return ns


def _iso_ns(text: str, field: str) -> int:
    """Nanoseconds from an ISO 8601 / RFC 3339 time; no zone means UTC; up to 9 fraction digits
    are kept (Go writes nanoseconds)."""
    match = _ISO.fullmatch(text.strip()) if len(text) <= 64 else None
    if match is None:
        raise IncidentError(
            f"{_show(text)} is not a time (use ISO 8601, such as 2026-11-21T14:05:00Z)",
            field=field,
        )
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise IncidentError(f"{_show(text)} is not a valid time: {exc}", field=field) from None
    offset = 0
    if sign:
        hours, minutes = int(off_h), int(off_m or 0)
        if hours > 23 or minutes > 59:
            raise IncidentError(f"{_show(text)} has no valid zone offset", field=field)
        offset = (hours * 3600 + minutes * 60) * (1 if sign == "+" else -1)
    seconds = (moment - _EPOCH) // _ONE_SECOND - offset
    nanos = int((fraction or "")[:9].ljust(9, "0"))
    return _in_range(seconds * 1_000_000_000 + nanos, text, field)


def _epoch_ns(number: Decimal, raw: Any, field: str) -> int:
    """Nanoseconds from an epoch number whose unit its size gives."""
    if not number.is_finite() or number < 0:
        raise IncidentError(f"{_show(raw)} is before 1970 or not a number", field=field)
    if number > _INT64_MAX:
        raise IncidentError(f"{_show(raw)} is after 2262", field=field)
    unit = next((unit for limit, unit in _EPOCH_UNITS if number < limit), 1)
    return _in_range(int(number * unit), raw, field)


def _time_ns(value: Any, field: str, *, epoch: bool = False) -> int:
    """A time field as nanoseconds: an ISO 8601 string, or (with ``epoch``) an epoch number in
    seconds, milliseconds, microseconds or nanoseconds (a number or a numeric string)."""
    if value is None:
        raise IncidentError("missing", field=field)
    if isinstance(value, str):
        stripped = value.strip()
        if epoch and len(stripped) <= 64 and _NUMBER.fullmatch(stripped):
            return _epoch_ns(Decimal(stripped), value, field)
        return _iso_ns(value, field)
    if epoch and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        except DecimalException:
            number = Decimal("NaN")
        return _epoch_ns(number, value, field)
    expected = "an ISO 8601 time or an epoch number" if epoch else "an ISO 8601 time"
    raise IncidentError(f"expected {expected}, got {_kind(value)}", field=field)


# --------------------------------------------------------------------------- severity

_SEVERITY_WORDS: dict[str, int] = {
    **dict.fromkeys(("critical", "crit", "fatal", "emergency", "emerg", "disaster", "page"), 1),
    **dict.fromkeys(("high", "major", "error", "err", "severe"), 2),
    **dict.fromkeys(("warning", "warn", "medium", "moderate", "average"), 3),
    **dict.fromkeys(("low", "minor", "notice"), 4),
    **dict.fromkeys(("info", "informational", "information", "debug", "none", "ok"), 5),
}
_SEVERITY_LEVEL = re.compile(r"(?:p|s|sev|severity)[-_ ]?([0-9])")


def severity_rank(severity: str) -> int:
    """How bad ``severity`` is, lower being worse: P0/SEV0 0; critical, P1 1; high, error, P2 2;
    warning, P3 3; low, P4 4; info, P5 5; a word it does not know 6 (any case)."""
    text = severity.strip().lower()
    if text in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[text]
    match = _SEVERITY_LEVEL.fullmatch(text)
    return min(int(match.group(1)), 5) if match else 6


def _worst(severities: list[str]) -> str | None:
    return min(severities, key=lambda s: (severity_rank(s), s.lower(), s), default=None)


# --------------------------------------------------------------------------- readers


class PayloadReader(ABC):
    """Base of every payload reader. Subclasses set ``name``, write the docstring (their user
    documentation) and implement :meth:`_read` and :meth:`_matches`."""

    name: ClassVar[str]

    def read(self, payload: Mapping[str, Any], *, path: str = "<bytes>") -> Incident:
        """The incident ``payload`` describes.

        Raises :class:`IncidentError` naming ``path`` and the field at fault; an unexpected
        exception inside the reader becomes one too, naming the reader.
        """
        try:
            if not isinstance(payload, dict):
                raise IncidentError(f"the payload is a JSON {_kind(payload)}; expected an object")
            return self._read(payload)
        except IncidentError as exc:
            raise IncidentError(exc.message, path=exc.path or path, field=exc.field) from None
        except (RecursionError, MemoryError):
            raise IncidentError(f"the {self.name} reader ran out of room", path=path) from None
        except Exception as exc:  # a reader's bug must be one line naming it, not a traceback
            raise IncidentError(
                f"the {self.name} reader failed unexpectedly: {type(exc).__name__}: {exc}",
                path=path,
            ) from None

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """Whether ``payload`` has this reader's shape (used by :func:`detect`)."""
        return isinstance(payload, dict) and self._matches(payload)

    @abstractmethod
    def _read(self, payload: dict[str, Any]) -> Incident:
        """Decode ``payload``; raise :class:`IncidentError` with ``field`` set for a bad field."""

    @abstractmethod
    def _matches(self, payload: dict[str, Any]) -> bool:
        """Whether ``payload`` looks like this reader's format (cheap, never raises)."""

    @classmethod
    def summary(cls) -> str:
        """The docstring's first line."""
        return (cls.__doc__ or "").strip().split("\n", 1)[0]


_READERS: dict[str, PayloadReader] = {}
PAYLOAD_READERS: Mapping[str, PayloadReader] = MappingProxyType(_READERS)
"""The payload readers by name, in detection order: alertmanager, pagerduty, generic."""


def _register(reader: type[PayloadReader]) -> type[PayloadReader]:
    """Add ``reader`` to :data:`PAYLOAD_READERS`; refuses a malformed or taken name and a reader
    without its user doc."""
    name = getattr(reader, "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{reader.__name__}: name {name!r} must be lower-kebab-case")
    if name in _READERS or name == "auto":
        raise ValueError(f"{reader.__name__}: payload reader name {name!r} is already taken")
    if not (reader.__doc__ or "").strip():
        raise ValueError(f"{reader.__name__}: a payload reader's docstring is its user doc")
    _READERS[name] = reader()
    return reader


@dataclasses.dataclass(frozen=True)
class _Alert:
    index: int
    labels: dict[str, str]
    annotations: dict[str, str]
    start_ns: int
    end_ns: int | None
    resolved: bool
    fingerprint: str | None


_SERVICE_LABELS = ("service", "service_name", "app", "job")


def _service_of(labels: Mapping[str, str]) -> str | None:
    """The first non-blank of an alert's service-ish labels."""
    return next((labels[key] for key in _SERVICE_LABELS if labels.get(key, "").strip()), None)


@_register
class AlertmanagerReader(PayloadReader):
    """Prometheus Alertmanager webhook (``webhook_config``, payload ``version`` "4").

    One payload, the notification of one alert group, is one incident:

    - start: the earliest ``startsAt`` of its alerts, firing or resolved
    - end: the latest ``endsAt`` once every alert is resolved; open while any still fires
      (``0001-01-01T00:00:00Z`` is Alertmanager's "no end")
    - services: of each alert the first of the labels ``service``, ``service_name``, ``app``,
      ``job``; the union over the alerts
    - severity: the worst ``severity`` label (P0 > critical, P1 > high, error, P2 > warning, P3 >
      low, P4 > info, P5 > words it does not know)
    - team: the ``team`` label of the worst alert that has one
    - title: ``commonAnnotations.summary``, else the alert names
    - id: ``am-`` and a hash of the ``groupKey`` (else the fingerprints, else the label sets) and
      the start, so the firing and the resolved notification of a group open the same incident
    - labels: ``commonLabels`` as they are, ``commonAnnotations`` as ``annotations.NAME``, and
      ``alertmanager.receiver``, ``.status``, ``.groupKey``, ``.externalURL``, ``.alerts`` (how
      many), ``.truncatedAlerts``

    Detected by ``alerts`` next to ``version``, ``groupKey`` or ``receiver``.
    """

    name = "alertmanager"

    def _matches(self, payload: dict[str, Any]) -> bool:
        return "alerts" in payload and any(
            key in payload for key in ("version", "groupKey", "receiver")
        )

    def _read(self, payload: dict[str, Any]) -> Incident:
        version = payload.get("version")
        if version is not None and version != "4":
            raise IncidentError(
                f'webhook payload version {_show(version)} is not supported; expected "4"',
                field="version",
            )
        status = _text(payload, "status", "")
        if status is not None and status not in ("firing", "resolved"):
            raise IncidentError(f"{_show(status)} is neither firing nor resolved", field="status")
        raw_alerts = _array(_member(payload, "alerts", ""), "alerts")
        if not raw_alerts:
            raise IncidentError("no alerts in the payload", field="alerts")
        alerts = [self._alert(raw, i, status) for i, raw in enumerate(raw_alerts)]
        common_labels = self._common(payload, "commonLabels", [a.labels for a in alerts])
        common_notes = self._common(payload, "commonAnnotations", [a.annotations for a in alerts])
        _string_map(payload.get("groupLabels") or {}, "groupLabels")
        group_key = _text(payload, "groupKey", "")

        start = min(alert.start_ns for alert in alerts)
        end = None
        if all(alert.resolved for alert in alerts):
            ends = [alert.end_ns for alert in alerts if alert.end_ns is not None]
            end = max(ends, default=None)
            if end is not None and end < start:
                late = next(a for a in alerts if a.end_ns == end)
                raise IncidentError(
                    "the alerts end before the first one starts",
                    field=f"alerts[{late.index}].endsAt",
                )
        by_badness = sorted(
            alerts,
            key=lambda a: (severity_rank(a.labels.get("severity", "")), a.start_ns, a.index),
        )
        team = next(
            (a.labels["team"] for a in by_badness if a.labels.get("team", "").strip()), None
        )
        services = {service for alert in alerts if (service := _service_of(alert.labels))}
        severity = _worst(
            [a.labels["severity"] for a in alerts if a.labels.get("severity", "").strip()]
        )

        if group_key is not None:
            identity = "groupKey:" + group_key
        elif all(alert.fingerprint for alert in alerts):
            identity = "fingerprints:" + ",".join(sorted(a.fingerprint or "" for a in alerts))
        else:
            identity = "labels:" + ",".join(
                sorted(orjson.dumps(a.labels, option=orjson.OPT_SORT_KEYS).decode() for a in alerts)
            )
        labels = dict(common_labels)
        labels.update({f"annotations.{key}": value for key, value in common_notes.items()})
        meta = {
            "receiver": _text(payload, "receiver", ""),
            "status": status,
            "groupKey": group_key,
            "externalURL": _text(payload, "externalURL", ""),
            "alerts": str(len(alerts)),
            "truncatedAlerts": self._truncated(payload),
        }
        labels.update({f"alertmanager.{k}": v for k, v in meta.items() if v is not None})
        return Incident(
            id=_hashed_id("am", identity, str(start)),
            title=self._title(common_notes, common_labels, alerts),
            start_ns=start,
            end_ns=end,
            alert_ns=start,
            services=tuple(sorted(services)),
            severity=severity,
            team=team,
            source=self.name,
            labels=labels,
        )

    @staticmethod
    def _alert(raw: Any, index: int, group_status: str | None) -> _Alert:
        where = f"alerts[{index}]"
        alert = _object(raw, where)
        status = _text(alert, "status", where) or group_status
        if status not in ("firing", "resolved"):
            field = f"{where}.status"
            if status is None:
                raise IncidentError("missing (and the payload has no status)", field=field)
            raise IncidentError(f"{_show(status)} is neither firing nor resolved", field=field)
        labels = _string_map(alert.get("labels") or {}, f"{where}.labels")
        annotations = _string_map(alert.get("annotations") or {}, f"{where}.annotations")
        start_raw = _member(alert, "startsAt", where)
        if isinstance(start_raw, str) and start_raw.startswith(_GO_ZERO_TIME):
            raise IncidentError("the zero time: the alert has no start", field=f"{where}.startsAt")
        start = _time_ns(start_raw, f"{where}.startsAt")
        end_raw = alert.get("endsAt")
        end = None
        if not (
            end_raw is None or (isinstance(end_raw, str) and end_raw.startswith(_GO_ZERO_TIME))
        ):
            end = _time_ns(end_raw, f"{where}.endsAt")
        fingerprint = _text(alert, "fingerprint", where)
        return _Alert(index, labels, annotations, start, end, status == "resolved", fingerprint)

    @staticmethod
    def _common(payload: dict[str, Any], key: str, each: list[dict[str, str]]) -> dict[str, str]:
        """The payload's ``commonLabels``/``commonAnnotations``, else what every alert shares."""
        if payload.get(key) is not None:
            return dict(_string_map(payload[key], key))
        first, *rest = each
        return {k: v for k, v in first.items() if all(other.get(k) == v for other in rest)}

    @staticmethod
    def _truncated(payload: dict[str, Any]) -> str | None:
        value = payload.get("truncatedAlerts")
        if value is None or value == 0:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise IncidentError(f"{_show(value)} is not a count", field="truncatedAlerts")
        return str(value)

    @staticmethod
    def _title(notes: dict[str, str], labels: dict[str, str], alerts: list[_Alert]) -> str:
        for candidate in (notes.get("summary"), labels.get("alertname")):
            if candidate and candidate.strip():
                return candidate
        names = sorted({a.labels["alertname"] for a in alerts if a.labels.get("alertname")})
        if not names:
            return "alert group"
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


@_register
class PagerDutyReader(PayloadReader):
    """PagerDuty v3 webhook: an ``event`` envelope whose ``data`` is the incident.

    Reads ``incident.triggered``, ``incident.resolved`` and every other ``incident.*`` event
    whose ``data.type`` is ``incident`` (acknowledged, escalated, reopened, priority_updated...):

    - id: ``data.id`` (PagerDuty's incident id)
    - title: ``data.title``
    - start and alert time: ``data.created_at`` (else ``event.occurred_at``)
    - end: ``event.occurred_at`` when the event is ``incident.resolved`` or ``data.status`` is
      ``resolved``; open otherwise
    - services: ``data.service.summary``
    - severity: ``data.priority.summary`` (P1...), else ``data.urgency`` (high, low)
    - team: the first of ``data.teams[].summary``
    - labels: ``pagerduty.event_type``, ``.event_id``, ``.status``, ``.urgency``, ``.priority``,
      ``.escalation_policy``, ``.service_id``, ``.teams``, ``.incident_key``, ``.number``,
      ``.html_url``

    Detected by an ``event`` object with an ``event_type``. V1 and V2 webhooks (``messages``)
    are refused: PagerDuty no longer sends them.
    """

    name = "pagerduty"

    def _matches(self, payload: dict[str, Any]) -> bool:
        event = payload.get("event")
        return isinstance(event, dict) and "event_type" in event

    def _read(self, payload: dict[str, Any]) -> Incident:
        if "event" not in payload and isinstance(payload.get("messages"), list):
            raise IncidentError(
                "a PagerDuty v1/v2 webhook; only v3 webhooks (an event envelope) are read",
                field="messages",
            )
        event = _object(_member(payload, "event", ""), "event")
        event_type = _text(event, "event_type", "event", required=True) or ""
        if not event_type.startswith("incident."):
            raise IncidentError(
                f"{_show(event_type)} is not an incident event (incident.triggered, "
                "incident.resolved...)",
                field="event.event_type",
            )
        data = _object(_member(event, "data", "event"), "event.data")
        data_type = _text(data, "type", "event.data")
        if data_type is not None and data_type != "incident":
            raise IncidentError(
                f"{_show(data_type)} is not an incident: {event_type} does not carry one; "
                "send incident.triggered or incident.resolved",
                field="event.data.type",
            )
        incident_id = _checked_id(
            _text(data, "id", "event.data", required=True) or "", "event.data.id"
        )
        title = _text(data, "title", "event.data", required=True) or ""
        occurred = event.get("occurred_at")
        occurred_ns = None if occurred is None else _time_ns(occurred, "event.occurred_at")
        if data.get("created_at") is not None:
            start = _time_ns(data["created_at"], "event.data.created_at")
        elif occurred_ns is not None:
            start = occurred_ns
        else:
            raise IncidentError(
                "missing (and so is event.occurred_at)", field="event.data.created_at"
            )
        status = _text(data, "status", "event.data")
        end = None
        if event_type == "incident.resolved" or status == "resolved":
            if occurred_ns is None:
                raise IncidentError(
                    "missing: a resolved incident needs it", field="event.occurred_at"
                )
            if occurred_ns < start:
                raise IncidentError("resolved before it was created", field="event.occurred_at")
            end = occurred_ns
        service = _optional_object(data, "service", "event.data")
        service_name = _text(service, "summary", "event.data.service")
        priority = _text(
            _optional_object(data, "priority", "event.data"), "summary", "event.data.priority"
        )
        urgency = _text(data, "urgency", "event.data")
        teams: list[str] = []
        for i, raw in enumerate(_array(data.get("teams") or [], "event.data.teams")):
            team = _text(
                _object(raw, f"event.data.teams[{i}]"), "summary", f"event.data.teams[{i}]"
            )
            if team is not None:
                teams.append(team)
        policy = _optional_object(data, "escalation_policy", "event.data")
        number = data.get("number")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise IncidentError(
                f"expected an integer, got {_kind(number)}", field="event.data.number"
            )
        meta = {
            "event_type": event_type,
            "event_id": _text(event, "id", "event"),
            "status": status,
            "urgency": urgency,
            "priority": priority,
            "escalation_policy": _text(policy, "summary", "event.data.escalation_policy"),
            "service_id": _text(service, "id", "event.data.service"),
            "teams": ", ".join(teams) or None,
            "incident_key": _text(data, "incident_key", "event.data"),
            "number": None if number is None else str(number),
            "html_url": _text(data, "html_url", "event.data"),
        }
        return Incident(
            id=incident_id,
            title=title,
            start_ns=start,
            end_ns=end,
            alert_ns=start,
            services=(service_name,) if service_name else (),
            severity=priority or urgency,
            team=teams[0] if teams else None,
            source=self.name,
            labels={f"pagerduty.{k}": v for k, v in meta.items() if v is not None},
        )


_GENERIC_FIELDS = ("end", "id", "labels", "services", "severity", "start", "team", "title")


@_register
class GenericReader(PayloadReader):
    """A plain JSON object for any other alert source, or written by hand::

        {"title": "Checkout answers slowly", "start": "2026-11-21T14:05:00Z",
         "end": "2026-11-21T14:40:00Z", "services": ["checkout", "payments"],
         "severity": "P2", "team": "payments", "id": "INC-2026-0042",
         "labels": {"region": "eu-west-1"}}

    ``title`` and ``start`` are required. A time is ISO 8601 (no zone means UTC) or an epoch
    number (seconds, milliseconds, microseconds or nanoseconds, told by its size). ``end`` absent
    or null: still open. ``services`` is a list of names or one name. ``labels`` is an object of
    strings. Without ``id`` the id is ``inc-`` and a hash of the title and the start. Any other
    field is an error (a typo would otherwise go unseen).

    Detected by ``title`` and ``start``.
    """

    name = "generic"

    def _matches(self, payload: dict[str, Any]) -> bool:
        return "title" in payload and "start" in payload

    def _read(self, payload: dict[str, Any]) -> Incident:
        for key in payload:
            if key not in _GENERIC_FIELDS:
                close = difflib.get_close_matches(key, _GENERIC_FIELDS, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"known: {', '.join(_GENERIC_FIELDS)}"
                )
                raise IncidentError(f"unknown field; {hint}", field=key)
        title = _text(payload, "title", "", required=True) or ""
        start = _time_ns(_member(payload, "start", ""), "start", epoch=True)
        end = None if payload.get("end") is None else _time_ns(payload["end"], "end", epoch=True)
        if end is not None and end < start:
            raise IncidentError("ends before it starts", field="end")
        raw_services = payload.get("services")
        if raw_services is None:
            services: list[str] = []
        elif isinstance(raw_services, str):
            services = [raw_services]
        else:
            services = _array(raw_services, "services")
            for i, item in enumerate(services):
                if not isinstance(item, str):
                    raise IncidentError(
                        f"expected a string, got {_kind(item)}", field=f"services[{i}]"
                    )
        given_id = _text(payload, "id", "")
        incident_id = (
            _checked_id(given_id, "id")
            if given_id is not None
            else _hashed_id("inc", title, str(start))
        )
        return Incident(
            id=incident_id,
            title=title,
            start_ns=start,
            end_ns=end,
            services=tuple(sorted({s for s in services if s.strip()})),
            severity=_text(payload, "severity", ""),
            team=_text(payload, "team", ""),
            source=self.name,
            labels=dict(_string_map(payload.get("labels") or {}, "labels")),
        )


# --------------------------------------------------------------------------- entry points


def detect(payload: Any) -> str:
    """The name of the payload reader for ``payload``, told by its shape (first match in
    :data:`PAYLOAD_READERS` order); :class:`IncidentError` when none fits."""
    if not isinstance(payload, dict):
        raise IncidentError(f"the payload is a JSON {_kind(payload)}; expected an object")
    for name, reader in PAYLOAD_READERS.items():
        if reader.matches(payload):
            return name
    if isinstance(payload.get("messages"), list):
        return "pagerduty"  # its reader explains that v1/v2 webhooks are not read
    raise IncidentError(
        "cannot tell the payload's format: expected an Alertmanager webhook (alerts, version "
        '"4"), a PagerDuty v3 webhook (event.event_type) or {"title", "start", ...}; '
        "name it with --format"
    )


def _read_bytes(source: str | os.PathLike[str], path: str) -> bytes:
    try:
        with open(source, "rb") as stream:
            data = stream.read(MAX_PAYLOAD_BYTES + 1)
    except OSError as exc:
        raise IncidentError(f"cannot read: {exc.strerror or exc}", path=path) from None
    return data


def _parse(data: bytes, path: str) -> Any:
    if len(data) > MAX_PAYLOAD_BYTES:
        raise IncidentError(
            f"larger than {MAX_PAYLOAD_BYTES // (1024 * 1024)} MiB; not read", path=path
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise IncidentError("empty; expected a JSON object", path=path)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise IncidentError(f"not JSON: {exc.msg}", path=path, line=exc.lineno) from None


def open_incident(
    source: str | os.PathLike[str] | bytes,
    *,
    format: str | None = None,
    id: str | None = None,
    name: str | None = None,
) -> Incident:
    """The incident an alert payload describes.

    ``source`` is a file path or the payload's bytes (a webhook body); ``format`` a name in
    :data:`PAYLOAD_READERS` (None or ``auto``: detect it); ``id`` replaces the id the payload
    gives or implies; ``name`` is how errors call the source (default: the path, or
    ``<bytes>``). Raises :class:`IncidentError`, naming the file and the JSON field.
    """
    path = name or ("<bytes>" if isinstance(source, bytes) else os.fspath(source))
    reader: PayloadReader | None = None
    if format not in (None, "auto"):
        reader = PAYLOAD_READERS.get(format)
        if reader is None:
            known = ", ".join(["auto", *PAYLOAD_READERS])
            raise IncidentError(
                f"unknown payload format {format!r}; known: {known}", field="format"
            )
    if id is not None:
        _checked_id(id, "id")
    data = source if isinstance(source, bytes) else _read_bytes(source, path)
    payload = _parse(data, path)
    if reader is None:
        try:
            reader = PAYLOAD_READERS[detect(payload)]
        except IncidentError as exc:
            raise IncidentError(exc.message, path=path) from None
    incident = reader.read(payload, path=path)
    return incident if id is None else dataclasses.replace(incident, id=id)


def _incident_field(data: dict[str, Any], key: str, check: Callable[[Any], bool], kind: str) -> Any:
    value = data.get(key)
    if value is not None and not check(value):
        raise IncidentError(f"expected {kind}, got {_kind(value)}", field=key)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _INT64_MAX


def load_incident(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> Incident:
    """An incident file written by ``norecur incident open`` (the JSON of
    :meth:`Incident.to_dict`). Raises :class:`IncidentError` naming the file and the field."""
    path = name or ("<bytes>" if isinstance(source, bytes) else os.fspath(source))
    data = source if isinstance(source, bytes) else _read_bytes(source, path)
    try:
        document = _object(_parse(data, path), "")
        if "start_ns" not in document and any(k in document for k in ("alerts", "event", "start")):
            raise IncidentError(
                "an alert payload, not an incident: open it with norecur incident open"
            )
        for key in ("id", "title", "start_ns"):
            _member(document, key, "")
        strings = ("id", "title", "severity", "team", "source")
        for key in strings:
            _incident_field(document, key, lambda v: isinstance(v, str), "a string")
        for key in ("start_ns", "end_ns", "alert_ns"):
            _incident_field(document, key, _is_int, "nanoseconds (an integer from 0 to 2**63-1)")
        for key in ("id", "title", "start_ns"):
            if document[key] is None:
                raise IncidentError("is null", field=key)
        services = _array(document.get("services") or [], "services")
        for i, item in enumerate(services):
            if not isinstance(item, str):
                raise IncidentError(f"expected a string, got {_kind(item)}", field=f"services[{i}]")
        labels = _string_map(document.get("labels") or {}, "labels")
    except IncidentError as exc:
        if exc.path is not None:
            raise
        raise IncidentError(exc.message, path=path, field=exc.field or None) from None
    return Incident(
        id=document["id"],
        title=document["title"],
        start_ns=document["start_ns"],
        end_ns=document.get("end_ns"),
        alert_ns=document.get("alert_ns"),
        services=tuple(services),
        severity=document.get("severity"),
        team=document.get("team"),
        source=document.get("source") or "generic",
        labels=dict(labels),
    )
