"""The incident an investigation starts from: what fired, when, where, how bad, whose."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Incident"]


@dataclass(frozen=True)
class Incident:
    """One incident, as opened from an alert payload or by hand (``norecur incident open``).

    Times are nanoseconds since the Unix epoch (UTC). ``start_ns`` is when the problem began as
    the alert saw it; ``end_ns`` when it resolved (None while it is still open); ``alert_ns``
    when the alert fired (often later than ``start_ns``).
    """

    id: str
    title: str
    start_ns: int
    end_ns: int | None = None
    alert_ns: int | None = None
    services: tuple[str, ...] = ()
    severity: str | None = None
    team: str | None = None
    source: str = "generic"
    """Where it came from: alertmanager, pagerduty, generic."""
    labels: dict[str, str] = field(default_factory=dict)
    """Everything else the payload said (alert labels, annotations), as text."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (sorted keys when written)."""
        return {
            "id": self.id,
            "title": self.title,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "alert_ns": self.alert_ns,
            "services": list(self.services),
            "severity": self.severity,
            "team": self.team,
            "source": self.source,
            "labels": dict(sorted(self.labels.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """The inverse of :meth:`to_dict` (raises ``KeyError``/``TypeError`` on a bad shape)."""
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            start_ns=int(data["start_ns"]),
            end_ns=None if data.get("end_ns") is None else int(data["end_ns"]),
            alert_ns=None if data.get("alert_ns") is None else int(data["alert_ns"]),
            services=tuple(str(item) for item in data.get("services", ())),
            severity=None if data.get("severity") is None else str(data["severity"]),
            team=None if data.get("team") is None else str(data["team"]),
            source=str(data.get("source", "generic")),
            labels={str(k): str(v) for k, v in dict(data.get("labels", {})).items()},
        )
