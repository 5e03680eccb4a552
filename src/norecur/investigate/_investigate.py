"""One investigation: evidence in, a draft postmortem, eval cases and the fault report out.

:func:`investigate` collects the incident window's evidence (:mod:`~norecur.investigate._collect`),
runs the RCA engine over it (every registered analyzer; ``kpi-shift`` reads the records when
given), attributes a moved KPI when request records are given, exports the failing traces as
eval cases (JSONL, Langfuse dataset items, a Phoenix CSV), writes the draft postmortem and lints
it: what is left are the places a human must act, listed. Every file is written with sorted
keys and no time of day of its own, so the same incident investigated twice gives byte-identical
files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from norecur.investigate._collect import Collected, Sources, collect, relative_to
from norecur.investigate._draft import draft_postmortem, human_gaps
from norecur.investigate._evals import eval_cases, write_jsonl, write_langfuse, write_phoenix
from norecur.investigate._incident import Incident
from norecur.lint import Finding
from norecur.rca import default_engine_analyzers, diagnose
from norecur.rca._render import to_dot, to_markdown
from norecur.rca.analyzers import KpiShift

__all__ = ["Investigation", "investigate"]


@dataclass(frozen=True)
class _EvalFile:
    path: str
    count: int


@dataclass
class Investigation:
    """What an investigation wrote and found."""

    folder: Path
    draft: Path
    files: dict[str, Path]
    """What was written, by role (fault_report, eval_cases, manifest...)."""
    gaps: list[Finding]
    """Lint findings of the draft: the places a human must act."""
    root_cause: str | None
    cause_class: str | None
    eval_cases: int
    unreadable: list[str] = field(default_factory=list)
    """Inputs that could not be read at all, one line each (the rest was investigated)."""
    timings: list[tuple[str, float]] = field(default_factory=list)


def _dump(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def investigate(
    incident: Incident,
    sources: Sources,
    folder: Path,
    *,
    today: date,
    collected: Collected | None = None,
    narrator: tuple[str, str] | None = None,
) -> Investigation:
    """Investigate ``incident`` into ``folder`` (module docstring); ``today`` dates the draft;
    ``narrator`` = ``(endpoint, model)`` asks an OpenAI-compatible endpoint for a narrative
    (off by default)."""
    timings: list[tuple[str, float]] = []
    began = time.perf_counter()
    collected = collected if collected is not None else collect(incident, sources)
    timings.append(("collect evidence", time.perf_counter() - began))
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    analyzers = default_engine_analyzers()
    if sources.value is not None:
        analyzers = [
            KpiShift(value=sources.value) if item.name == KpiShift.name else item
            for item in analyzers
        ]
    report = diagnose(collected.incident, collected.baseline, analyzers=analyzers)
    attribution = None
    if collected.incident.records is not None and sources.value is not None:
        from norecur.rca.kpi.attribution import attribute

        attribution = attribute(
            collected.incident.records, value=sources.value, events=collected.incident.events
        ).document
    timings.append(("diagnose", time.perf_counter() - began))
    began = time.perf_counter()
    files = {
        "fault_report": folder / "fault-report.json",
        "fault_report_markdown": folder / "fault-report.md",
        "propagation_graph": folder / "propagation.dot",
        "eval_cases": folder / "evals" / f"{incident.id}.jsonl",
        "langfuse_items": folder / "evals" / f"{incident.id}.langfuse.jsonl",
        "phoenix_dataset": folder / "evals" / f"{incident.id}.phoenix.csv",
        "manifest": folder / "manifest.json",
    }
    files["eval_cases"].parent.mkdir(parents=True, exist_ok=True)
    files["fault_report"].write_bytes(report.to_json())
    files["fault_report_markdown"].write_text(to_markdown(report), encoding="utf-8")
    files["propagation_graph"].write_text(to_dot(report), encoding="utf-8")
    if attribution is not None:
        files["attribution"] = folder / "attribution.json"
        files["attribution"].write_bytes(_dump(attribution))
    cases = eval_cases(collected.incident.spans, report.document, logs=collected.incident.logs)
    write_jsonl(cases, files["eval_cases"])
    write_langfuse(cases, files["langfuse_items"], f"incident-{incident.id}")
    write_phoenix(cases, files["phoenix_dataset"])
    files["manifest"].write_bytes(_dump(relative_to(collected.manifest, folder)))
    timings.append(("report and eval cases", time.perf_counter() - began))
    began = time.perf_counter()
    events = (
        collected.incident.events.to_pylist() if collected.incident.events is not None else None
    )
    markdown = draft_postmortem(
        incident,
        report.document,
        attribution=attribution,
        eval_cases=_EvalFile(path=f"evals/{incident.id}.jsonl", count=len(cases)),
        fault_report_path="fault-report.md",
        attribution_path="attribution.json" if attribution is not None else None,
        events=events,
        today=today,
    )
    if narrator is not None:
        from norecur.investigate._narrative import narrate, with_narrative

        endpoint, model = narrator
        markdown = with_narrative(
            markdown, narrate(incident, report.document, endpoint=endpoint, model=model)
        )
    draft = folder / f"{incident.id}.md"
    draft.write_text(markdown, encoding="utf-8")
    gaps = human_gaps(markdown, str(draft), today=today)
    timings.append(("draft and lint", time.perf_counter() - began))
    top = report.document["root_cause"]
    return Investigation(
        folder=folder,
        draft=draft,
        files=files,
        gaps=gaps,
        root_cause=top["component"] if top else None,
        cause_class=top["classification"]["class"] if top else None,
        eval_cases=len(cases),
        unreadable=list(collected.manifest.get("unreadable", [])),
        timings=timings,
    )
