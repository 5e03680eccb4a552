"""The report's signals in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = ["PROMETHEUS_CONTENT_TYPE", "prometheus_text"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The HTTP content type of :func:`prometheus_text` output."""

_Sample = tuple[dict[str, str], float | int]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _family(name: str, help_text: str, samples: list[_Sample]) -> Iterator[str]:
    yield f"# HELP {name} {_escape_help(help_text)}"
    yield f"# TYPE {name} gauge"
    seen: set[tuple[tuple[str, str], ...]] = set()
    for labels, value in sorted(samples, key=lambda sample: tuple(sample[0].values())):
        key = tuple(sorted(labels.items()))
        if key in seen:
            continue
        seen.add(key)
        if labels:
            inner = ",".join(f'{label}="{_escape_label(text)}"' for label, text in labels.items())
            yield f"{name}{{{inner}}} {_number(value)}"
        else:
            yield f"{name} {_number(value)}"


def prometheus_text(report: dict[str, Any]) -> str:
    """The signals of a :func:`build_report` document as Prometheus gauges.

    Every metric is named ``norecur_...``, has ``# HELP`` and ``# TYPE`` lines, and its samples
    are sorted by label values. Label values escape backslash, double quote and newline as the
    format requires. Values that are null in the report (a rate without a denominator, the
    statistics of an empty group) have no sample. The families:

    - ``norecur_followup_closure_rate{team}``, ``norecur_followups_in_closure_window{team}``,
      ``norecur_followups_closed_in_time{team}``, ``norecur_team_flagged{team}`` (1 or 0);
    - ``norecur_postmortem_slo_share_on_time{team}``, ``norecur_postmortem_slo_breaches{team}``;
    - ``norecur_postmortem_backlog`` (unpublished as of the as-of date),
      ``norecur_followups_overdue{team}`` (0 for teams with none);
    - ``norecur_cause_incidents{quarter,class,kind="primary|contributing"}``;
    - ``norecur_apparatus_updates{quarter,kind}``;
    - ``norecur_eval_gaps_revealed{quarter}``, ``norecur_eval_followups{quarter}``,
      ``norecur_eval_followups_closed{quarter}``;
    - ``norecur_mttd_minutes{team,stat="mean|median|p90"}`` and likewise ``mtta``, ``mttm``,
      ``mttr``; ``norecur_incidents_missing_milestones{measure}`` and
      ``norecur_incidents_invalid_milestones{measure}``.
    """
    closure_teams = report["closure"]["teams"]
    slo_teams = report["slo"]["teams"]
    overdue: dict[str, int] = dict.fromkeys(report.get("teams", ()), 0)
    for item in report["backlog"]["overdue_follow_ups"]:
        overdue[item["team"]] = overdue.get(item["team"], 0) + 1

    lines: list[str] = []

    def add(name: str, help_text: str, samples: list[_Sample]) -> None:
        lines.extend(_family(f"norecur_{name}", help_text, samples))

    add(
        "followup_closure_rate",
        "Share of follow-ups closed within the closure horizon of their postmortem's publication.",
        [({"team": t["team"]}, t["rate"]) for t in closure_teams if t["rate"] is not None],
    )
    add(
        "followups_in_closure_window",
        "Follow-ups counted in the closure rate (its denominator).",
        [({"team": t["team"]}, t["follow_ups"]) for t in closure_teams],
    )
    add(
        "followups_closed_in_time",
        "Follow-ups closed within the closure horizon.",
        [({"team": t["team"]}, t["closed_in_time"]) for t in closure_teams],
    )
    add(
        "team_flagged",
        "1 when the team's follow-up closure rate is below the threshold.",
        [({"team": t["team"]}, int(t["flagged"])) for t in closure_teams],
    )
    add(
        "postmortem_slo_share_on_time",
        "Share of postmortems published within the completion SLO (business days).",
        [
            ({"team": t["team"]}, t["share_on_time"])
            for t in slo_teams
            if t["share_on_time"] is not None
        ],
    )
    add(
        "postmortem_slo_breaches",
        "Incidents whose postmortem was published late or is overdue.",
        [({"team": t["team"]}, t["breached"]) for t in slo_teams],
    )
    add(
        "postmortem_backlog",
        "Resolved incidents without a published postmortem as of the report date.",
        [({}, len(report["backlog"]["unpublished"]))],
    )
    add(
        "followups_overdue",
        "Open or in-progress follow-ups past their due date.",
        [({"team": team}, count) for team, count in overdue.items()],
    )
    add(
        "cause_incidents",
        "Cause classes per quarter: incidents by primary class, factors by contributing class.",
        [
            ({"quarter": q["quarter"], "class": name, "kind": kind}, count)
            for q in report["causes"]["quarters"]
            for kind in ("primary", "contributing")
            for name, count in q[kind].items()
        ],
    )
    add(
        "apparatus_updates",
        "Apparatus changes committed by postmortems published in the quarter, by kind.",
        [
            ({"quarter": q["quarter"], "kind": kind}, q[kind])
            for q in report["apparatus"]["quarters"]
            for kind in ("alert", "runbook", "escalation", "drill")
        ],
    )
    for key, name, help_text in (
        ("gaps_revealed", "eval_gaps_revealed", "Postmortems whose eval delta revealed a gap."),
        ("eval_follow_ups", "eval_followups", "Eval follow-ups of postmortems published."),
        ("eval_follow_ups_closed", "eval_followups_closed", "Eval follow-ups done."),
    ):
        add(
            name,
            help_text,
            [({"quarter": q["quarter"]}, q[key]) for q in report["eval"]["quarters"]],
        )
    mttx = report["mttx"]
    for measure, words in (
        ("mttd", "Minutes from impact start to detection"),
        ("mtta", "Minutes from detection to acknowledgement"),
        ("mttm", "Minutes from impact start to mitigation"),
        ("mttr", "Minutes from impact start to resolution"),
    ):
        add(
            f"{measure}_minutes",
            f"{words}, per team (mean, median, nearest-rank p90).",
            [
                ({"team": group["group"], "stat": stat}, group[measure][f"{stat}_minutes"])
                for group in mttx["by_team"]
                for stat in ("mean", "median", "p90")
                if group[measure][f"{stat}_minutes"] is not None
            ],
        )
    for key, name, help_text in (
        (
            "missing",
            "incidents_missing_milestones",
            "Incidents lacking a milestone a measure needs.",
        ),
        ("invalid", "incidents_invalid_milestones", "Incidents whose milestones are out of order."),
    ):
        add(
            name,
            help_text,
            [({"measure": measure}, len(ids)) for measure, ids in mttx[key].items()],
        )
    return "\n".join(lines) + "\n"
