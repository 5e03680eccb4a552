"""The draft postmortem ``norecur investigate`` writes: evidence in, a ten-part Markdown file out.

:func:`draft_postmortem` turns what the diagnosis plane found about an incident (the fault
report of ``norecur rca``, the attribution of a KPI change, change events, the eval cases
exported from the failing traces) into a :class:`~norecur.model.Postmortem` with status
``draft``, rendered by the document renderer. Every prefilled statement carries its evidence in
parentheses, ``(fault report: root_cause.classification)``, ``(incident: alert time)``,
``(change event: source deploy-log)``: front-matter values are cited in the prose of their part.
What the evidence cannot say is left empty, so the draft fails lint exactly where a person must
act, and :func:`human_gaps` lists those places.

Expected lint findings on a fresh draft (:data:`HUMAN_GAPS`), and why only a person can clear
them:

* PM108 identification-incomplete: the authors and the on-call name are people; the telemetry
  does not name them. Also the severity, team or title when the incident did not carry them (a
  severity outside ``severity_scale`` is not copied: mapping it to the scale is a decision).
* PM102 part-empty: What went well and What did not go well judge the apparatus; nothing in the
  evidence can.
* PM402 eval-gap-without-plan: the failing traces are exported as eval cases, so the gap and
  its size are prefilled, but their expected behaviour and how the new cases are shown to fail
  on the regressed version (``eval_delta.validation``) are for a person to write.
* PM401 eval-delta-undecided: only when no eval cases were exported; whether the eval set
  missed the incident is then undecided.
* PM502 follow-up-without-owner: every proposed follow-up; owning work is a commitment.
* PM201 primary-cause-unclassified: only when no analyzer blamed a component and no attribution
  named a class; the cause is then a visible gap, never a guess.
* PM511 follow-up-without-action: the fix follow-up when there is no root cause to fix.
* PM301 blast-radius-unquantified: only when the evidence holds no count (no failing trace and
  no request-level records).
* PM802 detection-missing / PM803 resolution-missing: the incident has no alert time, or is
  still open.
* PM902 draft-past-slo: the incident was resolved longer ago than the completion SLO; only
  publishing clears it.

Any other code on a fresh draft is a bug in the draft, not a gap. Due dates are proposals:
:data:`DUE_BUSINESS_DAYS` business days from the drafting day (the configured holiday calendar),
and the thresholds of proposed alerts are half the effect the incident had.

The same inputs give a byte-identical draft: nothing reads the clock (``today`` is an argument),
and every list is ordered by the evidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson

from norecur.config import Config
from norecur.document import render_markdown
from norecur.investigate._incident import Incident
from norecur.lint import Finding, Linter
from norecur.model import (
    ApparatusKind,
    ApparatusUpdate,
    BlastRadius,
    BusinessCalendar,
    Cause,
    CauseClass,
    ContributingFactor,
    Dates,
    EvalDelta,
    FollowUp,
    FollowUpStatus,
    FollowUpType,
    Milestones,
    Narrative,
    OnCall,
    Postmortem,
    PostmortemStatus,
    TimelineEntry,
    TimelineKind,
)
from norecur.rca import FaultReport

__all__ = [
    "CHANGE_LOOKBACK_NS",
    "CONTRIBUTING_MIN_SHARE",
    "DUE_BUSINESS_DAYS",
    "HUMAN_GAPS",
    "EvalCaseFile",
    "draft_postmortem",
    "human_gaps",
]

HUMAN_GAPS: dict[str, str] = {
    "PM102": "What went well / What did not go well judge the apparatus; evidence cannot",
    "PM108": "authors and the on-call name are people (and the severity, team or title when the "
    "incident had none)",
    "PM201": "no analyzer blamed a component and no attribution named a class",
    "PM301": "the evidence holds no count of affected traces or requests",
    "PM401": "no eval cases were exported: whether the eval set missed this is undecided",
    "PM402": "the expected behaviour of the exported cases and their validation against the "
    "regressed version",
    "PM502": "every proposed follow-up needs an owner",
    "PM511": "there is no root cause, so the fix is for a person to name",
    "PM802": "the incident carries no alert time",
    "PM803": "the incident is still open",
    "PM902": "the incident was resolved longer ago than the completion SLO; publish the draft",
}
"""Lint codes a fresh draft may carry, each a place where a person must act (module docstring)."""

DUE_BUSINESS_DAYS: dict[FollowUpType, int] = {
    FollowUpType.FIX: 5,
    FollowUpType.EVAL: 5,
    FollowUpType.APPARATUS: 10,
}
"""Proposed due dates: business days from the drafting day (or the incident, if later)."""
CHANGE_LOOKBACK_NS = 3_600_000_000_000
"""Change events up to an hour before the impact started join the timeline."""
CONTRIBUTING_MIN_SHARE = 0.1
"""A ranked component below the root cause is proposed as a contributing factor from this blame
share up."""
SLICE_LIFT = 1.5
"""A fault-report slice names the blast radius only when its affected rate is at least this many
times the overall rate (``operation=POST`` on every trace says nothing)."""
_NS = 1_000_000_000
_QUOTE_CHARS = 300


class EvalCaseFile(Protocol):
    """Where the failing traces were exported as eval cases, and how many there are."""

    @property
    def path(self) -> Any:
        """The eval-case file (``str`` or ``Path``)."""

    @property
    def count(self) -> int:
        """How many cases it holds."""


@dataclass(frozen=True)
class _Event:
    """A change event, merged from the events given and the attribution's ranked list."""

    time_ns: int
    kind: str
    target: str
    name: str
    old: str | None
    new: str | None
    source: str | None
    words: str
    """Kind, name and what the attributes say (:func:`_said`) in lower case, to spot a
    rollback."""
    rank: int | None = None
    """1-based rank in the attribution, when it ranked the event."""
    score: float | None = None

    @property
    def key(self) -> tuple[int, str, str, str, str, str]:
        return (self.time_ns, self.kind, self.target, self.name, self.old or "", self.new or "")

    def describe(self) -> str:
        change = f"{self.name} {self.old or '?'} -> {self.new or '?'}" if self.name else self.kind
        return f"{self.kind} change {change} on {self.target or 'an unnamed target'}"

    def cite(self) -> str:
        parts = [f"change event: source {self.source}" if self.source else "change event"]
        if self.rank is not None and self.score is not None:
            parts.append(f"attribution: events[{self.rank - 1}], score {self.score:.2f}")
        return "; ".join(parts)


@dataclass(frozen=True)
class _Moment:
    """A milestone value and the evidence for it."""

    ns: int
    what: str
    cite: str


def draft_postmortem(
    incident: Incident,
    fault_report: Mapping[str, Any] | FaultReport | None,
    *,
    attribution: Mapping[str, Any] | None = None,
    eval_cases: EvalCaseFile | None = None,
    fault_report_path: str | None = None,
    attribution_path: str | None = None,
    events: Sequence[Mapping[str, Any]] | None = None,
    today: date,
    config: Config | None = None,
) -> str:
    """The draft postmortem of ``incident`` as Markdown with YAML front matter (module docstring).

    ``fault_report`` is the document of :func:`norecur.rca.diagnose` (or the report itself);
    ``attribution`` the document of :func:`norecur.rca.kpi.attribution.attribute`; ``events``
    change-event rows (``time_ns``, ``kind``, ``target``, ``name``, ``old``, ``new``,
    ``source``, ``attributes``); ``eval_cases`` the file the failing traces were exported to.
    ``config`` gives the severity scale and the holiday calendar of the due dates.
    """
    document = fault_report.document if isinstance(fault_report, FaultReport) else fault_report
    draft = _Draft(
        incident,
        document,
        attribution,
        eval_cases,
        fault_report_path,
        attribution_path,
        events or (),
        today,
        config or Config(),
    )
    return render_markdown(draft.postmortem())


def human_gaps(
    markdown: str,
    path: str,
    *,
    config: Config | None = None,
    today: date | None = None,
) -> list[Finding]:
    """Lint a draft and return its findings: each names the line (and the field, in its message)
    where a person must act. On a fresh draft every code is one of :data:`HUMAN_GAPS`.

    Raises ``ValueError`` when ``markdown`` cannot be read as a postmortem at all.
    """
    result = Linter(config, today=today).lint_text(markdown, path)
    if result.error is not None:
        raise ValueError(result.error.one_line())
    return list(result.findings)


class _Draft:
    """Works out each part from the evidence; one instance per draft."""

    def __init__(
        self,
        incident: Incident,
        report: Mapping[str, Any] | None,
        attribution: Mapping[str, Any] | None,
        eval_cases: EvalCaseFile | None,
        report_path: str | None,
        attribution_path: str | None,
        events: Sequence[Mapping[str, Any]],
        today: date,
        config: Config,
    ) -> None:
        self.incident = incident
        self.report = report
        self.attribution = attribution
        self.eval_path = str(eval_cases.path) if eval_cases is not None else None
        self.eval_count = int(eval_cases.count) if eval_cases is not None else 0
        self.report_path = report_path
        self.attribution_path = attribution_path
        self.today = today
        self.config = config
        self.calendar = BusinessCalendar(config.holiday_country, config.holiday_subdivision)
        self.root: Mapping[str, Any] | None = report.get("root_cause") if report else None
        self.blast: Mapping[str, Any] | None = report.get("blast_radius") if report else None
        self.onset: Mapping[str, Any] | None = attribution.get("onset") if attribution else None
        slices = attribution.get("slices") if attribution else None
        self.top_slice: Mapping[str, Any] | None = slices[0] if slices else None
        self.events = _merge_events(events, attribution)
        self.moments, self.milestone_notes = self._moments()
        self.milestones = Milestones(
            timezone="UTC",
            impact_started=self._at("impact_started"),
            detected=self._at("detected"),
            mitigated=self._at("mitigated"),
            resolved=self._at("resolved"),
        )

    # -- evidence ----------------------------------------------------------------------------

    def _at(self, name: str) -> datetime | None:
        moment = self.moments[name]
        return _time(moment.ns) if moment is not None else None

    @property
    def component(self) -> str | None:
        return str(self.root["component"]) if self.root else None

    @property
    def cause_class(self) -> CauseClass | None:
        if self.root:
            return CauseClass(self.root["classification"]["class"])
        return self.attribution_class

    @property
    def attribution_class(self) -> CauseClass | None:
        if not self.attribution:
            return None
        found = (self.attribution.get("classification") or {}).get("class")
        return CauseClass(found) if found else None

    def _affected_buckets(self) -> list[Mapping[str, Any]]:
        if not self.blast:
            return []
        return [row for row in self.blast.get("over_time", []) if row["affected"] > 0]

    def _first_failure(self) -> _Moment | None:
        buckets = self._affected_buckets()
        if not buckets:
            return None
        first = buckets[0]
        where = f" through {self.component}" if self.component else ""
        return _Moment(
            _parse_iso(first["start"]),
            f"first failing trace{where}",
            f"fault report: blast_radius.over_time, first {first['width_s']} s bucket with an "
            "affected trace",
        )

    def _onset(self) -> _Moment | None:
        if not self.onset or not self.attribution:
            return None
        name = self._kpi_name()
        return _Moment(
            int(self.onset["time_ns"]),
            f"{name} changed",
            f"attribution: onset, z {_num(self.onset.get('z'), 2)}",
        )

    def _rollback(self, after_ns: int) -> _Event | None:
        for event in self.events:
            if event.time_ns < after_ns:
                continue
            if _is_rollback(event, self.events):
                return event
        return None

    def _moments(self) -> tuple[dict[str, _Moment | None], list[str]]:
        """The milestones the evidence supports, kept in order (PM801 can never fire on them),
        and notes on evidence that was set aside to keep that order."""
        incident = self.incident
        detected = (
            _Moment(incident.alert_ns, "alert fired", "incident: alert time")
            if incident.alert_ns is not None
            else None
        )
        evidence = [m for m in (self._first_failure(), self._onset()) if m is not None]
        started = min(evidence, key=lambda m: m.ns) if evidence else None
        if started is None or (detected is not None and started.ns > detected.ns):
            started = self._declared()  # no telemetry, or telemetry that begins after the alert
        if detected is not None and detected.ns < started.ns:
            started = _Moment(
                detected.ns, "impact began no later than the alert", "incident: alert time"
            )
        notes: list[str] = []
        resolved = (
            _Moment(incident.end_ns, "incident resolved", "incident: end")
            if incident.end_ns is not None
            else None
        )
        floor = detected.ns if detected is not None else started.ns
        if resolved is not None and resolved.ns < floor:
            notes.append(
                f"the incident's end ({_clock(resolved.ns)}) is before its earlier milestones, "
                "so it is not used as the resolution"
            )
            resolved = None
        mitigated = None
        rollback = self._rollback(started.ns)
        if rollback is not None:
            if rollback.time_ns >= floor and (resolved is None or rollback.time_ns <= resolved.ns):
                mitigated = _Moment(
                    rollback.time_ns, f"rollback ({rollback.describe()})", rollback.cite()
                )
            else:
                notes.append(
                    f"the rollback at {_clock(rollback.time_ns)} falls outside detection and "
                    "resolution, so it is not used as the mitigation"
                )
        moments = {
            "impact_started": started,
            "detected": detected,
            "mitigated": mitigated,
            "resolved": resolved,
        }
        return moments, notes

    def _declared(self) -> _Moment:
        return _Moment(
            self.incident.start_ns, "problem began as the alert saw it", "incident: start"
        )

    @property
    def started(self) -> _Moment:
        moment = self.moments["impact_started"]
        if moment is None:  # pragma: no cover - _moments always sets it
            raise AssertionError("impact_started is always set")
        return moment

    # -- parts -------------------------------------------------------------------------------

    def postmortem(self) -> Postmortem:
        incident = self.incident
        severity = incident.severity if incident.severity in self.config.severity_scale else None
        follow_ups, updates = self._follow_ups()
        return Postmortem(
            id=incident.id or None,
            title=" ".join(incident.title.split()) or None,
            severity=severity,
            status=PostmortemStatus.DRAFT,
            team=incident.team or None,
            services=self._services(),
            on_call=[OnCall(role="primary")],
            dates=Dates(written=self.today),
            incident=self.milestones,
            timeline=self._timeline(),
            cause=self._cause(),
            blast_radius=self._blast_radius(),
            eval_delta=self._eval_delta(),
            follow_ups=follow_ups,
            apparatus_updates=updates,
            narrative=Narrative(
                identification=self._identification_prose(),
                summary=self._summary_prose(),
                timeline=self._timeline_prose(),
                cause=self._cause_prose(),
                blast_radius=self._blast_prose(),
                eval_delta=self._eval_prose(),
                follow_ups=self._follow_up_prose(),
                apparatus_updates=self._apparatus_prose(),
                went_well="<!-- Parts of the apparatus that worked as designed: a person "
                "writes this. -->",
                went_wrong="<!-- Apparatus and design gaps, not individual decisions: a person "
                "writes this. -->",
            ),
        )

    def _named_services(self) -> list[str]:
        """The services the incident named, once each, blank names dropped."""
        return list(dict.fromkeys(name for name in self.incident.services if name.strip()))

    def _services(self) -> list[str]:
        named = self._named_services()
        if named:
            return named
        if self.blast:
            return [str(name) for name in self.blast.get("services", [])]
        return []

    def _timeline(self) -> list[TimelineEntry]:
        entries: list[tuple[int, int, TimelineEntry]] = []

        def add(ns: int, kind: TimelineKind, event: str) -> None:
            entries.append(
                (ns, len(entries), TimelineEntry(time=_time(ns), event=event, kind=kind))
            )

        start = self.started
        resolved = self.moments["resolved"]
        mitigated = self.moments["mitigated"]
        low = start.ns - CHANGE_LOOKBACK_NS
        high = resolved.ns if resolved is not None else None
        culprit = self._culprit()
        for event in self.events:
            near = low <= event.time_ns and (high is None or event.time_ns <= high)
            if not near and event != culprit:
                continue
            rollback = _is_rollback(event, self.events) and event.time_ns >= start.ns
            if rollback and mitigated is not None and event.time_ns == mitigated.ns:
                continue  # the mitigation entry below tells it
            add(
                event.time_ns,
                TimelineKind.MITIGATION if rollback else TimelineKind.CHANGE,
                f"{'Rollback' if rollback else 'Change'}: {event.describe()} ({event.cite()})",
            )
        failure = self._first_failure()
        if failure is not None:
            add(
                failure.ns,
                TimelineKind.IMPACT,
                f"First failing trace{self._through()} ({failure.cite})",
            )
        onset = self._onset()
        if onset is not None and self.onset is not None:
            add(
                onset.ns,
                TimelineKind.IMPACT,
                f"{_capital(onset.what)}: "
                f"{_num(self.onset.get('before'))} -> {_num(self.onset.get('after'))} "
                f"({_pct(self.onset.get('relative'), signed=True)}) ({onset.cite})",
            )
        declared = self._declared()
        add(
            declared.ns,
            TimelineKind.IMPACT if start == declared else TimelineKind.NOTE,
            f"Problem began, as the alert saw it ({declared.cite})",
        )
        detected = self.moments["detected"]
        if detected is not None:
            source = f", source {self.incident.source}" if self.incident.source else ""
            add(detected.ns, TimelineKind.DETECTION, f"Alert fired ({detected.cite}{source})")
        if mitigated is not None:
            add(
                mitigated.ns,
                TimelineKind.MITIGATION,
                f"{_capital(mitigated.what)} ({mitigated.cite})",
            )
        recovery = self._recovery()
        if recovery is not None:
            add(recovery[0], TimelineKind.NOTE, recovery[1])
        if resolved is not None:
            add(resolved.ns, TimelineKind.RESOLUTION, f"Incident resolved ({resolved.cite})")
        return [entry for _ns, _order, entry in sorted(entries, key=lambda item: item[:2])]

    def _through(self) -> str:
        return f" through {self.component}" if self.component else ""

    def _recovery(self) -> tuple[int, str] | None:
        """The end of the last affected bucket, when later buckets saw traces and none failed."""
        if not self.blast:
            return None
        rows = list(self.blast.get("over_time", []))
        hit = [index for index, row in enumerate(rows) if row["affected"] > 0]
        if not hit or hit[-1] == len(rows) - 1:
            return None
        last = rows[hit[-1]]
        after = rows[hit[-1] + 1 :]
        traces = sum(row["traces"] for row in after)
        if traces == 0:
            return None
        ns = _parse_iso(last["start"]) + int(last["width_s"]) * _NS
        return ns, (
            f"No affected trace from here to the end of the telemetry: {traces} traces in "
            f"{len(after)} later buckets (fault report: blast_radius.over_time)"
        )

    def _cause(self) -> Cause | None:
        primary = self.cause_class
        contributing: list[ContributingFactor] = []
        if self.report:
            for index, row in enumerate(self.report.get("ranking", [])[1:], start=1):
                classification = row.get("classification")
                if classification is None or row["blame_share"] < CONTRIBUTING_MIN_SHARE:
                    continue
                example = (row.get("examples") or [{}])[0]
                reason = _quote(example.get("reason", ""))
                evidence = f"; {example['analyzer']}: {reason}" if reason else ""
                contributing.append(
                    ContributingFactor(
                        class_=CauseClass(classification["class"]),
                        description=(
                            f"{row['component']} ranked {row['rank']} (score "
                            f"{_num(row['score'], 2)}, blame share {_num(row['blame_share'], 2)})"
                            f"{evidence} (fault report: ranking[{index}]); a suspect to confirm "
                            "or remove in review"
                        ),
                    )
                )
        other = self.attribution_class
        if self.root and other is not None and other != primary and self.attribution:
            reason = _quote(self.attribution["classification"].get("reason", ""))
            contributing.append(
                ContributingFactor(
                    class_=other,
                    description=f"the KPI attribution points at {other.value}: {reason} "
                    "(attribution: classification); a suspect to confirm or remove in review",
                )
            )
        if primary is None and not contributing:
            return None
        return Cause(primary=primary, contributing=contributing)

    def _slices(self) -> list[tuple[str, str]]:
        """Slices that carry the incident, as ``(dimension=value, citation)``."""
        found: list[tuple[str, str]] = []
        if self.top_slice is not None:
            for element in self.top_slice["elements"]:
                label = " & ".join(f"{key}={value}" for key, value in sorted(element.items()))
                found.append((label, "attribution: slices[0]"))
        if self.blast:
            traces = self.blast["traces"]
            overall = traces["affected"] / traces["total"] if traces["total"] else 0.0
            for index, row in enumerate(self.blast.get("slices", [])):
                rate = row["affected"] / row["total"] if row["total"] else 0.0
                if overall and rate >= SLICE_LIFT * overall and row["share_of_affected"] >= 0.5:
                    found.append(
                        (
                            f"{row['dimension']}={row['value']}",
                            f"fault report: blast_radius.slices[{index}]",
                        )
                    )
        return list(dict.fromkeys(found))

    def _slice_requests(self) -> int | None:
        """Requests in the attribution's top slice after the onset (observed / ratio_after)."""
        if self.top_slice is None:
            return None
        evidence = self.top_slice.get("evidence") or []
        if not evidence:
            return None
        observed, ratio = evidence[0].get("observed"), evidence[0].get("ratio_after")
        if not observed or not ratio:
            return None
        return round(observed / ratio)

    def _slice_requests_text(self, requests: int) -> str:
        """What the attribution's request count covers, and whether it bounds the incident."""
        change = self._slice_change()
        label = change[0] if change else "the regressed slice"
        windows = (self.attribution or {}).get("windows") or {}
        end = windows.get("after_end_ns")
        if end is None:
            return f"{requests} requests in {label} after the onset"
        text = (
            f"{requests} requests in {label} from the onset to the end of the attribution's "
            f"after-window ({_clock(int(end))})"
        )
        resolved = self.moments["resolved"]
        if resolved is not None and resolved.ns < int(end):
            text += f"; an upper bound, as the incident resolved at {_clock(resolved.ns)}"
        return text

    def _counts(self) -> dict[str, tuple[int, int, str]]:
        """Affected, total and citation per blast-radius quantity that the evidence measured."""
        counts: dict[str, tuple[int, int, str]] = {}
        if self.blast:
            for field, name in (("sessions", "sessions"), ("users", "users")):
                reach = self.blast.get(name)
                if reach and reach["total"] and reach["affected"]:
                    counts[field] = (
                        reach["affected"],
                        reach["total"],
                        f"fault report: blast_radius.{name}",
                    )
            tenants = self.blast.get("tenants")
            if tenants and tenants["total"] and tenants["affected"]:
                counts["tenants"] = (
                    tenants["affected"],
                    tenants["total"],
                    f"fault report: blast_radius.tenants, attribute {tenants['attribute']}",
                )
            traces = self.blast["traces"]
            if traces["affected"]:
                counts["requests"] = (
                    traces["affected"],
                    traces["total"],
                    "fault report: blast_radius.traces",
                )
        if "requests" not in counts:
            requests = self._slice_requests()
            if requests:
                counts["requests"] = (
                    requests,
                    0,
                    "attribution: slices[0] observed / ratio_after, windows",
                )
        return counts

    def _duration(self) -> tuple[float, str] | None:
        start, end = self.started, self.moments["resolved"]
        if end is not None:
            return round(
                (end.ns - start.ns) / 60 / _NS, 1
            ), "milestones: impact_started to resolved"
        buckets = self._affected_buckets()
        if buckets:
            first = _parse_iso(buckets[0]["start"])
            last = _parse_iso(buckets[-1]["start"]) + int(buckets[-1]["width_s"]) * _NS
            return (
                round((last - first) / 60 / _NS, 1),
                "fault report: blast_radius.over_time, first to last affected bucket",
            )
        return None

    def _blast_radius(self) -> BlastRadius | None:
        counts = self._counts()
        duration = self._duration()
        return BlastRadius(
            sessions=counts["sessions"][0] if "sessions" in counts else None,
            users=counts["users"][0] if "users" in counts else None,
            tenants=counts["tenants"][0] if "tenants" in counts else None,
            requests=counts["requests"][0] if "requests" in counts else None,
            duration_minutes=duration[0] if duration else None,
            slices=[label for label, _cite in self._slices()],
        )

    def _eval_delta(self) -> EvalDelta | None:
        if self.eval_path is not None and self.eval_count > 0:
            return EvalDelta(
                gap=True,
                missing_coverage=self._coverage(),
                cases_to_add=self.eval_count,
                eval_set=self.eval_path,
            )
        return EvalDelta(missing_coverage=self._coverage())

    def _coverage(self) -> str:
        target = self._alert_target()
        cause = f" ({self.cause_class.value})" if self.cause_class else ""
        if self.eval_path is not None and self.eval_count > 0:
            return (
                f"the {self.eval_count} failing traces{self._through()}{cause}, exported as eval "
                f"cases to {self.eval_path} (eval cases: {self.eval_path}, {self.eval_count} cases)"
            )
        what = f"the regressed requests of {target}" if target else "the failing requests"
        return f"{what}{cause}; none were exported as eval cases yet"

    def _alert_target(self) -> str | None:
        """The slice that carried the incident, else the blamed component, else the services
        the incident named; None for all traces."""
        slices = self._slices()
        if slices:
            return slices[0][0]
        if self.component:
            return self.component
        return ", ".join(self._named_services()) or None

    def _kpi_name(self) -> str:
        kpi = (self.attribution or {}).get("kpi") or {}
        return str(kpi.get("name") or "KPI")

    def _slice_change(self) -> tuple[str, float, float] | None:
        """The attribution's top slice and its KPI before and after the onset."""
        if self.top_slice is None:
            return None
        evidence = self.top_slice.get("evidence") or []
        if not evidence:
            return None
        before, after = evidence[0].get("ratio_before"), evidence[0].get("ratio_after")
        if not before or after is None:
            return None
        element = evidence[0].get("element") or {}
        label = " & ".join(f"{key}={value}" for key, value in sorted(element.items()))
        return label, float(before), float(after)

    def _alert_action(self) -> str:
        """``Alert on <slice or component> <signal>``, with a threshold of half the effect."""
        target = self._alert_target()
        change = self._slice_change()
        if change is not None:
            _label, before, after = change
            relative = after / before - 1
            direction = "falls" if relative < 0 else "rises"
            return (
                f"Alert on {target} {self._kpi_name()}: page when it {direction} "
                f"{_pct(abs(relative) / 2)} against its level before a change event, within 60 "
                f"minutes of the change (attribution: slices[0], {_num(before)} -> "
                f"{_num(after)}, {_pct(relative, signed=True)} in this incident)"
            )
        if self.blast and self.blast["traces"]["affected"]:
            traces = self.blast["traces"]
            share = traces["affected"] / traces["total"]
            which = f"the traces through {target}" if target else "all traces"
            return (
                f"Alert on {f'{target} ' if target else ''}failed traces: page when more than "
                f"{_pct(share / 2)} of {which} fail over 5 minutes (fault report: "
                f"blast_radius.traces, {traces['affected']} of {traces['total']} traces failed "
                f"in this incident, {_pct(share)})"
            )
        return (
            f"Alert on {f'{target} ' if target else ''}error rate and latency: page within 5 "
            "minutes of a change event that moves either (no failing trace was measured in "
            f"incident {self.incident.id})"
        )

    def _fix_action(self) -> str | None:
        if self.root:
            klass = self.root["classification"]["class"]
            cases = (
                f" and make the {self.eval_count} cases in {self.eval_path} pass"
                if self.eval_path and self.eval_count
                else ""
            )
            return (
                f"Remove the {klass} fault in {self.component}{cases} (fault report: root_cause, "
                f"score {_num(self.root['score'], 2)})"
            )
        culprit = self._culprit()
        if culprit is None or self.attribution_class is None:
            return None
        change = self._slice_change()
        if change is not None:
            label, before, _after = change
            keeps = f"{label} keeps its {self._kpi_name()} of {_num(before)}"
        else:
            level = _num((self.onset or {}).get("before"))
            keeps = f"the {self._kpi_name()} keeps its level of {level}"
        return (
            f"Rework the {culprit.describe()} so {keeps} before the change ships again "
            f"({culprit.cite()})"
        )

    def _culprit(self) -> _Event | None:
        ranked = [event for event in self.events if event.rank == 1 and (event.score or 0) > 0]
        return ranked[0] if ranked else None

    def _eval_action(self) -> str:
        if self.eval_path and self.eval_count:
            return (
                f"Write the expected behaviour of the {self.eval_count} cases in {self.eval_path} "
                f"and add them to the pre-deploy eval gate (eval cases: {self.eval_path})"
            )
        if self.blast and self.blast["traces"]["affected"]:
            return (
                f"Export the {self.blast['traces']['affected']} failing traces{self._through()} as "
                "eval cases and add them to the pre-deploy eval gate (fault report: "
                "blast_radius.traces)"
            )
        return (
            f"Add eval cases for {self._alert_target() or 'the failing requests'} to the "
            f"pre-deploy eval gate, covering what regressed in incident {self.incident.id}"
        )

    def _due(self, kind: FollowUpType) -> date:
        start = max(self.today, self.milestones.local_date("impact_started") or self.today)
        return self.calendar.add_business_days(start, DUE_BUSINESS_DAYS[kind])

    def _follow_ups(self) -> tuple[list[FollowUp], list[ApparatusUpdate]]:
        alert = self._alert_action()
        follow_ups = [
            FollowUp(
                id="a",
                action=self._fix_action(),
                due=self._due(FollowUpType.FIX),
                status=FollowUpStatus.OPEN,
                type=FollowUpType.FIX,
            ),
            FollowUp(
                id="b",
                action=self._eval_action(),
                due=self._due(FollowUpType.EVAL),
                status=FollowUpStatus.OPEN,
                type=FollowUpType.EVAL,
            ),
            FollowUp(
                id="c",
                action=alert,
                due=self._due(FollowUpType.APPARATUS),
                status=FollowUpStatus.OPEN,
                type=FollowUpType.APPARATUS,
                apparatus_kind=ApparatusKind.ALERT,
            ),
        ]
        change = alert.split(":", 1)[0].replace("Alert on", "New alert on", 1)
        updates = [
            ApparatusUpdate(
                kind=ApparatusKind.ALERT,
                change=f"{change}, so this pattern pages before it spreads",
                follow_up="c",
            )
        ]
        return follow_ups, updates

    # -- prose -------------------------------------------------------------------------------

    def _identification_prose(self) -> str:
        incident = self.incident
        lines = [
            f"Drafted by norecur investigate from incident {incident.id} (source "
            f"{incident.source}) on {self.today.isoformat()}. Every statement cites its evidence "
            "in parentheses; what the evidence cannot say is left empty for a person."
        ]
        if incident.severity and incident.severity not in self.config.severity_scale:
            lines.append(
                f"The incident gave severity {incident.severity!r}, which is not on the scale "
                f"{', '.join(self.config.severity_scale)}: a person maps it (incident: severity)."
            )
        if not self._named_services() and self._services():
            lines.append(
                "The services are those on the affected traces (fault report: "
                "blast_radius.services); the incident named none."
            )
        lines += ["", "Milestones, with the evidence for each:", ""]
        for name in ("impact_started", "detected", "acknowledged", "mitigated", "resolved"):
            moment = self.moments.get(name)
            if moment is not None:
                lines.append(f"- {name}: {_clock(moment.ns)}, {moment.what} ({moment.cite})")
            else:
                lines.append(f"- {name}: not in the evidence; a person fills it in")
        for note in self.milestone_notes:
            lines.append(f"- note: {note}")
        lines.append("")
        lines.append(self._report_line())
        if self.attribution is not None:
            lines.append("")
            lines.append(self._attribution_line(self.attribution))
        return "\n".join(lines)

    def _report_line(self) -> str:
        if self.report is None:
            return "Fault report: none (no traces were diagnosed)."
        inputs = self.report.get("inputs", {})
        analyzers = [row["name"] for row in self.report.get("analyzers", [])]
        link = _link(self.report_path) if self.report_path else "not saved to a file"
        return (
            f"Fault report: {link} ({len(analyzers)} analyzers over {inputs.get('spans', 0)} "
            f"spans, {inputs.get('traces', 0)} traces, {inputs.get('failed_traces', 0)} failed "
            "traces)."
        )

    def _attribution_line(self, attribution: Mapping[str, Any]) -> str:
        link = _link(self.attribution_path) if self.attribution_path else "not saved to a file"
        name = self._kpi_name()
        return f"Attribution of {name}: {link}."

    def _summary_prose(self) -> str:
        sentences: list[str] = []
        start = self.started
        counts = self._counts()
        change = self._slice_change()
        if "requests" in counts and counts["requests"][1]:
            affected, total, cite = counts["requests"]
            sentences.append(
                f"From {_clock(start.ns)}, {affected} of {total} traces "
                f"({_pct(affected / total)}) failed{self._through()} ({cite})."
            )
        elif change is not None and self.onset is not None:
            label, before, after = change
            name = self._kpi_name()
            sentences.append(
                f"From {_clock(start.ns)}, the {name} of {label} went {_num(before)} -> "
                f"{_num(after)} ({_pct(after / before - 1, signed=True)}) while the overall "
                f"{name} went {_num(self.onset.get('before'))} -> {_num(self.onset.get('after'))} "
                f"({_pct(self.onset.get('relative'), signed=True)}) (attribution: slices[0], "
                "onset)."
            )
        else:
            sentences.append(f"Impact began by {_clock(start.ns)} ({start.cite}).")
        if self.root:
            sentences.append(
                f"The fault report ranks {self.component} first and classifies the cause as "
                f"{self.root['classification']['class']} (fault report: root_cause)."
            )
        elif self.attribution_class is not None:
            sentences.append(
                f"The attribution classifies the cause as {self.attribution_class.value} "
                "(attribution: classification)."
            )
        else:
            sentences.append("No analyzer blamed a component: the cause is for a person to find.")
        detected = self.moments["detected"]
        if detected is not None:
            sentences.append(f"The alert fired at {_clock(detected.ns)} ({detected.cite}).")
        mitigated = self.moments["mitigated"]
        if mitigated is not None:
            sentences.append(
                f"A {mitigated.what} at {_clock(mitigated.ns)} mitigated it ({mitigated.cite})."
            )
        resolved = self.moments["resolved"]
        if resolved is not None:
            sentences.append(f"It was resolved at {_clock(resolved.ns)} ({resolved.cite}).")
        else:
            sentences.append("The incident has no resolution time yet.")
        return " ".join(sentences)

    def _timeline_prose(self) -> str:
        return (
            "Reconstructed from the incident, the fault report's over-time counts and the change "
            f"events within {CHANGE_LOOKBACK_NS // 3_600_000_000_000} hour before the impact "
            "started; each entry names its source. Times are UTC. Pages, acknowledgements, "
            "escalations and communication are not in the telemetry: a person adds them."
        )

    def _cause_prose(self) -> str:
        paragraphs: list[str] = []
        if self.root and self.report is not None:
            paragraphs.append(self._root_paragraph(self.root, self.report))
            edges = (self.report or {}).get("propagation", {}).get("edges", [])
            if edges:
                shown = ", ".join(
                    f"{edge['from']} -> {edge['to']} ({edge['kind']}, {edge['traces']} traces)"
                    for edge in edges
                )
                paragraphs.append(f"Propagation: {shown} (fault report: propagation.edges).")
        elif self.report is not None:
            paragraphs.append(
                "The fault report blames no component: no analyzer found evidence against one "
                "(fault report: root_cause is empty). The primary cause is left for a person."
            )
        if self.attribution is not None:
            classification = self.attribution.get("classification") or {}
            klass = classification.get("class")
            verdict = f"classifies the change as {klass}" if klass else "names no cause class"
            paragraphs.append(
                f"The KPI attribution {verdict}: {_quote(classification.get('reason', ''))} "
                "(attribution: classification)."
            )
        if self.cause_class is None:
            paragraphs.append(
                "Cause class: not determined by the evidence. Set cause.primary once the cause "
                "is known."
            )
        paragraphs.append(
            "<!-- Why the system allowed it: which safeguard was missing. A person writes "
            "this, about the system, not about people. -->"
        )
        return "\n\n".join(paragraphs)

    def _root_paragraph(self, root: Mapping[str, Any], report: Mapping[str, Any]) -> str:
        classification = root["classification"]
        winner = classification["class"]
        votes = sorted(
            classification.get("votes", []),
            key=lambda vote: (vote["class"] != winner, -vote["weight"], vote["rule"]),
        )
        deciding = "; ".join(
            f"{vote['rule']} ({vote['class']}, weight {_num(vote['weight'], 2)}): "
            f"{_quote(vote['reason'])}"
            for vote in votes
            if vote["class"] == winner
        )
        outvoted = [vote for vote in votes if vote["class"] != winner]
        against = (
            " Outvoted: "
            + "; ".join(
                f"{vote['rule']} ({vote['class']}): {_quote(vote['reason'])}" for vote in outvoted
            )
            + "."
            if outvoted
            else ""
        )
        ranking = report.get("ranking", [])
        shares = ranking[0].get("evidence_shares", {}) if ranking else {}
        evidence = ", ".join(
            f"{name} {_num(value, 2)}"
            for name, value in sorted(shares.items(), key=lambda item: (-item[1], item[0]))
        )
        example = ""
        if root.get("reason"):
            example = (
                f" Strongest example: {root['analyzer']}: {_quote(root['reason'])} "
                "(fault report: root_cause)."
            )
        return (
            f"The fault report ranks {self.component} first of {len(ranking)} components (score "
            f"{_num(root['score'], 2)}, blame share {_num(root['blame_share'], 2)}) and "
            f"classifies it as {winner} (role {classification.get('role')}, confidence "
            f"{_num(classification.get('confidence'), 2)}). Deciding votes: {deciding} (fault "
            f"report: root_cause.classification).{against} Evidence behind the ranking: "
            f"{evidence} (fault report: ranking[0].evidence_shares).{example}"
        )

    def _blast_prose(self) -> str:
        lines: list[str] = []
        names = {
            "requests": "traces",
            "sessions": "sessions",
            "users": "users",
            "tenants": "tenants",
        }
        for field, (affected, total, cite) in sorted(
            self._counts().items(),
            key=lambda item: ("requests", "sessions", "users", "tenants").index(item[0]),
        ):
            if total:
                verb = f" failed{self._through()}" if field == "requests" else " affected"
                lines.append(
                    f"- {field}: {affected} of {total} {names[field]}{verb} "
                    f"({_pct(affected / total)}) ({cite})"
                )
            else:
                lines.append(f"- {field}: {self._slice_requests_text(affected)} ({cite})")
        if not lines:
            lines.append(
                "- no count of affected traces, requests, sessions or users is in the evidence: "
                "a person measures one"
            )
        duration = self._duration()
        if duration is not None:
            lines.append(f"- duration_minutes: {duration[0]} ({duration[1]})")
        for label, cite in self._slices():
            lines.append(f"- slice {label} ({cite})")
        if self.blast and self.blast.get("services"):
            lines.append(
                f"- services on affected traces: {', '.join(self.blast['services'])} (fault "
                "report: blast_radius.services)"
            )
        if self.blast is not None and self.blast.get("tenants") is None:
            lines.append("- tenants: not measured (no tenant attribute was given to the diagnosis)")
        lines += ["", "<!-- Business impact and SLA breach: a person estimates them. -->"]
        return "\n".join(lines)

    def _eval_prose(self) -> str:
        if self.eval_path is not None and self.eval_count > 0:
            return (
                f"The failing traces were exported as {self.eval_count} eval cases to "
                f"{_link(self.eval_path)} (eval cases: {self.eval_path}, {self.eval_count} "
                "cases). Their expected behaviour is not in the telemetry: a person writes it in "
                "each case, then states in eval_delta.validation how the cases are shown to fail "
                "on the regressed version and pass on the fixed one."
            )
        return (
            "No failing trace was exported as an eval case. A person decides whether the eval set "
            "missed this incident (eval_delta.gap) and, if it did, plans the cases to add."
        )

    def _follow_up_prose(self) -> str:
        days = ", ".join(
            f"{kind.value} {count}" for kind, count in sorted(DUE_BUSINESS_DAYS.items())
        )
        country = self.config.holiday_country or "none"
        return (
            "Proposed by norecur investigate: a fix for the root cause (a), eval coverage (b) and "
            "an alert (c). Owners are left for a person. Due dates are proposals in business days "
            f"from {self.today.isoformat()} ({days}; holiday calendar: {country})."
        )

    def _apparatus_prose(self) -> str:
        return (
            "The proposed alert (follow-up c) watches the slice or component that carried this "
            "incident, with a threshold of half the effect the incident had; the owner tunes it. "
            "Runbook, escalation and drill changes are for a person to add."
        )


def _merge_events(
    rows: Sequence[Mapping[str, Any]], attribution: Mapping[str, Any] | None
) -> list[_Event]:
    merged: dict[tuple[int, str, str, str, str, str], _Event] = {}
    for row in rows:
        event = _event(row)
        merged.setdefault(event.key, event)
    for rank, row in enumerate((attribution or {}).get("events", []), start=1):
        event = _event(row)
        held = merged.get(event.key)
        base = held if held is not None else event
        merged[event.key] = _Event(
            base.time_ns,
            base.kind,
            base.target,
            base.name,
            base.old,
            base.new,
            base.source,
            base.words,
            rank,
            float(row.get("score") or 0.0),
        )
    return sorted(merged.values(), key=lambda event: event.key)


def _event(row: Mapping[str, Any]) -> _Event:
    def text(name: str) -> str | None:
        value = row.get(name)
        return None if value is None else str(value)

    words = " ".join(
        str(part) for part in (row.get("kind"), row.get("name"), *_said(row)) if part
    ).lower()
    return _Event(
        time_ns=int(row["time_ns"]),
        kind=text("kind") or "change",
        target=text("target") or "",
        name=text("name") or "",
        old=text("old"),
        new=text("new"),
        source=text("source"),
        words=words,
    )


_SAYING_KEYS = ("action", "operation", "type", "description", "message", "reason")
"""Attributes of a change event whose text may say it is a rollback; other attributes (a
config key named ``auto_rollback``, say) do not."""


def _said(row: Mapping[str, Any]) -> list[str]:
    """What a change event's attributes say about it (:data:`_SAYING_KEYS`), plus ``rollback``
    when a ``rollback`` attribute is true."""
    attributes = row.get("attributes")
    if isinstance(attributes, str):
        try:
            attributes = orjson.loads(attributes)
        except orjson.JSONDecodeError:
            return []
    if not isinstance(attributes, Mapping):
        return []
    said = [str(attributes[key]) for key in _SAYING_KEYS if isinstance(attributes.get(key), str)]
    if attributes.get("rollback") is True:
        said.append("rollback")
    return said


_ROLLBACK = re.compile(r"(?<![\w-])(?:roll(?:ed)? ?back|revert(?:ed)?)(?![\w-])")
"""A word that says rollback; ``auto_rollback`` (a config key) is not one."""


def _is_rollback(event: _Event, events: Sequence[_Event]) -> bool:
    """Named a rollback, or undoes an earlier change of the same target and name."""
    if _ROLLBACK.search(event.words):
        return True
    return any(
        earlier.time_ns < event.time_ns
        and earlier.target == event.target
        and earlier.name == event.name
        and earlier.old is not None
        and event.new == earlier.old
        and event.old == earlier.new
        for earlier in events
    )


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // _NS, tz=UTC)


def _clock(ns: int) -> str:
    return _time(ns).strftime("%Y-%m-%d %H:%M:%S UTC")


def _parse_iso(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * _NS


def _num(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` decimals; ``?`` when the evidence has none."""
    if value is None:
        return "?"
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    return f"{number:.{digits}f}"


def _pct(value: Any, *, signed: bool = False) -> str:
    if value is None:
        return "?"
    return f"{float(value) * 100:{'+' if signed else ''}.1f} %"


def _quote(text: str) -> str:
    """Telemetry text on one line, cut to a readable length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _QUOTE_CHARS else flat[: _QUOTE_CHARS - 1] + "…"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _link(path: str) -> str:
    target = f"<{path}>" if any(ch in path for ch in " ()<>") else path
    return f"[{path}]({target})"
