"""Building hand-made postmortems for the signal tests, one short call each."""

from __future__ import annotations

from datetime import date
from typing import Any

from norecur.config import Config
from norecur.metrics import SignalData, build_report
from norecur.model import Postmortem


def pm(
    incident_id: str,
    *,
    team: str | None = "alpha",
    severity: str | None = "P2",
    status: str | None = "published",
    published: str | None = None,
    timezone: str | None = "UTC",
    impact_started: str | None = None,
    detected: str | None = None,
    acknowledged: str | None = None,
    mitigated: str | None = None,
    resolved: str | None = None,
    primary: str | None = None,
    contributing: tuple[str | None, ...] = (),
    eval_gap: bool | None = None,
    follow_ups: tuple[dict[str, Any], ...] = (),
    apparatus: tuple[dict[str, Any], ...] = (),
) -> Postmortem:
    """A postmortem with only what a test needs; times are ISO strings, naive ones local."""
    milestones = {
        "timezone": timezone,
        "impact_started": impact_started,
        "detected": detected,
        "acknowledged": acknowledged,
        "mitigated": mitigated,
        "resolved": resolved,
    }
    data: dict[str, Any] = {
        "id": incident_id,
        "team": team,
        "severity": severity,
        "status": status,
        "dates": {"published": published},
        "incident": {k: v for k, v in milestones.items() if v is not None},
        "follow_ups": list(follow_ups),
        "apparatus_updates": list(apparatus),
    }
    if primary is not None or contributing:
        data["cause"] = {
            "primary": primary,
            "contributing": [{"class": c} if c else {"description": "x"} for c in contributing],
        }
    if eval_gap is not None:
        data["eval_delta"] = {"gap": eval_gap}
    return Postmortem.model_validate({k: v for k, v in data.items() if v is not None})


def fu(key: str, status: str = "open", **fields: Any) -> dict[str, Any]:
    """A follow-up as front matter; ``closed``/``due`` as ISO dates."""
    return {"id": key, "action": f"action {key}", "owner": "owner", "status": status, **fields}


def report(
    postmortems: list[Postmortem],
    *,
    start: date,
    end: date,
    as_of: date,
    history: dict[tuple[str, str], list[tuple[str, Any]]] | None = None,
    team: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """``build_report`` over ``postmortems`` with config ``options``."""
    data = SignalData.from_postmortems(postmortems, history=history)
    config = Config.from_mapping(options)
    return build_report(data, start=start, end=end, as_of=as_of, config=config, team=team)


def by_team(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["team"]: row for row in rows}
