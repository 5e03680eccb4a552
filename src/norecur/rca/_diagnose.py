"""The RCA engine: run the analyzers over an incident window, combine, classify, measure reach.

:func:`diagnose` is the one entry point. It fits every analyzer on the baseline (when one is
given), runs it over the incident, combines the candidates into one ranking
(:mod:`norecur.rca._combine`), classifies the top suspects (:mod:`norecur.rca._classify`),
measures the blast radius of the first (:mod:`norecur.rca._blast`), draws the propagation graph,
and returns a :class:`~norecur.rca.FaultReport`. Everything is deterministic: the same inputs
give a byte-identical JSON report.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, default_analyzers, is_sorted, sort_spans
from norecur.rca._blast import blast_radius
from norecur.rca._classify import Classification, classify
from norecur.rca._clues import clues_for, roles
from norecur.rca._combine import WINDOW, Ranked, combine
from norecur.rca._evidence import Candidate
from norecur.rca._report import SCHEMA_VERSION, FaultReport
from norecur.rca._signals import failed_traces
from norecur.telemetry._observations import Observations

__all__ = ["DEFAULT_WEIGHTS", "ENGINE_PARAMS", "default_engine_analyzers", "diagnose"]

DEFAULT_WEIGHTS: dict[str, float] = {
    "error-propagation": 0.9,
    "spectrum": 0.8,
    "agent-patterns": 0.8,
    "new-values": 0.8,
    "change-events": 0.6,
    "kpi-shift": 0.8,
    "agent-step-blame": 0.7,
    "pattern-shift": 0.7,
    "latency-shift": 0.6,
    "resource-anomaly": 0.5,
}
"""How far the engine trusts each analyzer as a witness (see :mod:`norecur.rca._combine`): an
error that reached the user outweighs a statistical association, which outweighs a shift in
latency or resources that may be a symptom. An analyzer not listed (a plugin) weighs
:data:`PLUGIN_WEIGHT`."""
PLUGIN_WEIGHT = 0.5
CLASSIFIED = 3
"""How many of the top components are classified."""
TRACES_LISTED = 100
"""Traces listed in ``per_trace``; the count of all is given beside."""
LOCATED_SPANS = 1000
"""Span ids listed in ``root_cause.spans`` (the count of all is given beside)."""
MARGIN_NS = 60_000_000_000
"""Without ``window``, logs and metrics are kept from a minute before the first span to a minute
after the last."""
ENGINE_PARAMS: dict[str, dict[str, object]] = {
    "latency-shift": {"scope": "window"},
    "resource-anomaly": {"scope": "window"},
    "spectrum": {"relative": True},
}
"""Constructor overrides for the engine: it ranks the incident window as a whole, and reads a
spectrum score as evidence only beyond what an element every trace covers gets."""


def default_engine_analyzers() -> list[Analyzer]:
    """One instance of every registered analyzer, configured for incident-window ranking."""
    analyzers = []
    for analyzer in default_analyzers():
        analyzers.append(analyzer(**ENGINE_PARAMS.get(analyzer.name, {})))
    return analyzers


def diagnose(
    incident: Observations,
    baseline: Observations | None = None,
    *,
    analyzers: Sequence[Analyzer] | None = None,
    weights: Mapping[str, float] | None = None,
    tenant_attribute: str | None = None,
    slice_keys: tuple[str, ...] = (),
    window: tuple[int | None, int | None] | None = None,
) -> FaultReport:
    """Diagnose ``incident`` against ``baseline`` (module docstring).

    ``window`` (start and end in ns since the epoch, either open) restricts the incident and
    is quoted in the report; without it, logs and metric points are kept only around the time
    the spans cover (:data:`MARGIN_NS`). ``weights`` overrides :data:`DEFAULT_WEIGHTS` per
    analyzer.
    """
    if window is not None:
        incident = incident.window(*window)
    elif incident.spans.num_rows and (incident.logs is not None or incident.metrics is not None):
        incident = _around_spans(incident)
    analyzers = list(analyzers) if analyzers is not None else default_engine_analyzers()
    trust = {**DEFAULT_WEIGHTS, **(weights or {})}
    for analyzer in analyzers:
        if baseline is not None:
            analyzer.fit(
                baseline.spans,
                logs=baseline.logs,
                metrics=baseline.metrics,
                kpis=baseline.kpis,
                records=baseline.records,
                events=baseline.events,
            )
    spans = incident.spans if is_sorted(incident.spans) else sort_spans(incident.spans)
    found: dict[str, list[Candidate]] = {}
    for analyzer in analyzers:
        found[analyzer.name] = analyzer.analyze(
            spans,
            logs=incident.logs,
            metrics=incident.metrics,
            kpis=incident.kpis,
            records=incident.records,
            events=incident.events,
        )
    analyzer_weights = {a.name: trust.get(a.name, PLUGIN_WEIGHT) for a in analyzers}
    failed = failed_traces(spans, incident.logs) if spans.num_rows else set()
    ranking = combine(found, analyzer_weights, failed_traces=len(failed))
    suspects = ranking[:CLASSIFIED]
    role_of = roles(spans, [ranked.component for ranked in suspects])
    classes = {
        ranked.component: (
            classify(clues_for(ranked, spans, found, role_of[ranked.component])),
            role_of[ranked.component],
        )
        for ranked in suspects
    }
    top = ranking[0] if ranking else None
    document: dict[str, Any] = {
        "schema": "norecur.fault-report",
        "schema_version": SCHEMA_VERSION,
        "inputs": _inputs(incident, baseline, window, len(failed)),
        "analyzers": [
            {
                "name": analyzer.name,
                "weight": analyzer_weights[analyzer.name],
                "params": _jsonable(analyzer.get_params()),
                "candidates": len(found[analyzer.name]),
            }
            for analyzer in analyzers
        ],
        "root_cause": _root_cause(top, classes, found) if top is not None else None,
        "ranking": [_ranked(ranked, classes.get(ranked.component)) for ranked in ranking],
        "propagation": _graph(spans, found, ranking),
        "blast_radius": blast_radius(
            spans,
            failed,
            top.component if top is not None else None,
            tenant_attribute=tenant_attribute,
            slice_keys=slice_keys,
        ),
        "per_trace": _per_trace(found, analyzer_weights, failed),
    }
    return FaultReport(document)


def _around_spans(incident: Observations) -> Observations:
    """Logs and metric points of the time the spans cover, widened by :data:`MARGIN_NS` on
    each side (a metric sampled once a minute needs a point on either side of a short window);
    the spans are kept whole."""
    start = pc.min(incident.spans["start_ns"]).as_py() - MARGIN_NS
    end = pc.max(incident.spans["end_ns"]).as_py() + MARGIN_NS
    around = incident.window(start, end)
    return Observations(
        spans=incident.spans,
        logs=around.logs,
        metrics=around.metrics,
        kpis=incident.kpis,
        records=incident.records,
        events=incident.events,
        reads=incident.reads,
        failed=incident.failed,
    )


def _inputs(
    incident: Observations,
    baseline: Observations | None,
    window: tuple[int | None, int | None] | None,
    failed: int,
) -> dict[str, Any]:
    spans = incident.spans
    traces = len(pc.unique(spans["trace_id"])) if spans.num_rows else 0
    return {
        "files": [_read(read) for read in incident.reads],
        "baseline_files": [_read(read) for read in baseline.reads] if baseline else [],
        "unreadable": [error.one_line() for error in incident.failed]
        + ([error.one_line() for error in baseline.failed] if baseline else []),
        "window": None if window is None else {"start_ns": window[0], "end_ns": window[1]},
        "spans": spans.num_rows,
        "traces": traces,
        "failed_traces": failed,
        "log_lines": incident.logs.num_rows if incident.logs is not None else 0,
        "metric_points": incident.metrics.num_rows if incident.metrics is not None else 0,
    }


def _read(read: Any) -> dict[str, Any]:
    return {
        "path": read.path,
        "reader": read.reader,
        "records": read.spans,
        "skipped": [error.one_line() for error in read.skipped],
    }


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (list(value) if isinstance(value, tuple) else value)
        for key, value in params.items()
        if value is None or isinstance(value, str | int | float | bool | tuple | list)
    }


def _classification(result: Classification, role: str) -> dict[str, Any]:
    return {
        "class": result.cause_class.value,
        "confidence": result.confidence,
        "role": role,
        "votes": [
            {
                "rule": vote.rule,
                "class": vote.cause_class.value,
                "weight": vote.weight,
                "reason": vote.reason,
            }
            for vote in result.votes
        ],
    }


def _root_cause(
    top: Ranked,
    classes: Mapping[str, tuple[Classification, str]],
    found: Mapping[str, list[Candidate]],
) -> dict[str, Any]:
    analyzer, candidate = top.examples[0] if top.examples else ("", None)
    located = sorted(
        {
            item.span_id
            for candidates in found.values()
            for item in candidates
            if item.component == top.component and item.score > 0 and item.span_id
        }
    )
    return {
        "spans": located[:LOCATED_SPANS],
        "spans_total": len(located),
        "component": top.component,
        "score": top.score,
        "blame_share": top.blame_share,
        "classification": _classification(*classes[top.component]),
        "analyzer": analyzer,
        "kind": candidate.kind if candidate else "",
        "reason": candidate.reason if candidate else "",
        "span_ids": list(candidate.span_ids) if candidate else [],
        "trace_id": candidate.trace_id if candidate else None,
    }


def _ranked(ranked: Ranked, classification: tuple[Classification, str] | None) -> dict[str, Any]:
    return {
        "rank": ranked.rank,
        "component": ranked.component,
        "score": ranked.score,
        "blame_share": ranked.blame_share,
        "strengths": ranked.strengths,
        "evidence_shares": ranked.shares,
        "classification": _classification(*classification) if classification else None,
        "examples": [_candidate(analyzer, candidate) for analyzer, candidate in ranked.examples],
    }


def _candidate(analyzer: str, candidate: Candidate) -> dict[str, Any]:
    return {
        "analyzer": analyzer,
        "trace_id": candidate.trace_id,
        "span_id": candidate.span_id,
        "step": candidate.step,
        "score": candidate.score,
        "kind": candidate.kind,
        "reason": candidate.reason,
        "evidence": [
            {
                "kind": item.kind,
                "value": item.value,
                "weight": item.weight,
                "contribution": item.contribution,
                "reason": item.reason,
                "span_ids": list(item.span_ids),
            }
            for item in candidate.evidence
        ],
    }


def _graph(
    spans: pa.Table, found: Mapping[str, list[Candidate]], ranking: Sequence[Ranked]
) -> dict[str, Any]:
    """The propagation graph: components as nodes; an ``error`` edge from where an error began
    to each caller it reached (from ``error-propagation`` paths), counted in traces. Without
    such paths, the ``calls`` edges into and out of the top suspects, from the span tree."""
    top = [ranked.component for ranked in ranking[:CLASSIFIED]]
    paths = [
        (candidate.trace_id, item.span_ids)
        for candidate in found.get("error-propagation", [])
        for item in candidate.evidence
        if item.kind in ("originating_error", "timeout_callee") and len(item.span_ids) > 1
    ]
    edges: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    if paths:
        component_of = _components(spans, {(trace, span) for trace, ids in paths for span in ids})
        for trace, ids in paths:
            for child, parent in itertools.pairwise(ids):
                source = component_of.get((trace, child))
                target = component_of.get((trace, parent))
                if source and target and source != target:
                    edges[(source, target, "error")].add(trace)
    elif top and spans.num_rows:
        edges = _call_edges(spans, set(top))
    nodes = sorted({name for edge in edges for name in edge[:2]} | set(top))
    return {
        "nodes": [
            {
                "id": f"n{index}",
                "component": name,
                "rank": next((r.rank for r in ranking if r.component == name), None),
            }
            for index, name in enumerate(nodes)
        ],
        "edges": [
            {"from": source, "to": target, "kind": kind, "traces": len(traces)}
            for (source, target, kind), traces in sorted(edges.items())
        ],
    }


def _components(spans: pa.Table, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    wanted = pa.array(sorted(f"{trace}/{span}" for trace, span in keys), pa.string())
    joined = pc.binary_join_element_wise(spans["trace_id"], spans["span_id"], "/")
    hits = spans.filter(pc.is_in(joined, value_set=wanted))
    names = pc.coalesce(hits["service"], hits["agent_name"], hits["name"]).to_pylist()
    return {
        (trace, span): name
        for trace, span, name in zip(
            hits["trace_id"].to_pylist(), hits["span_id"].to_pylist(), names, strict=True
        )
    }


def _call_edges(spans: pa.Table, top: set[str]) -> dict[tuple[str, str, str], set[str]]:
    table = pa.table(
        {
            "trace_id": spans["trace_id"],
            "span_id": spans["span_id"],
            "parent_span_id": spans["parent_span_id"],
            "component": pc.coalesce(spans["service"], spans["agent_name"], spans["name"]),
        }
    )
    parents = table.select(["trace_id", "span_id", "component"]).rename_columns(
        ["trace_id", "parent_span_id", "caller"]
    )
    joined = table.join(parents, keys=["trace_id", "parent_span_id"], join_type="inner")
    differs = pc.not_equal(joined["component"], joined["caller"])
    touches = pc.or_(
        pc.is_in(joined["component"], value_set=pa.array(sorted(top), pa.string())),
        pc.is_in(joined["caller"], value_set=pa.array(sorted(top), pa.string())),
    )
    joined = joined.filter(pc.and_(differs, touches))
    counted = joined.group_by(["caller", "component"]).aggregate([("trace_id", "count_distinct")])
    edges: dict[tuple[str, str, str], set[str]] = {}
    for row in counted.to_pylist():
        # only the count is reported; a set of that size keeps one shape with error edges
        edges[(row["caller"], row["component"], "calls")] = set(
            range(row["trace_id_count_distinct"])
        )
    return edges


def _per_trace(
    found: Mapping[str, list[Candidate]], weights: Mapping[str, float], failed: set[str]
) -> dict[str, Any]:
    """The strongest candidate of every trace (``weight * min(score, 1)``; ties: the analyzer
    name, then the candidate's rank), failed traces first."""
    best: dict[str, tuple[tuple[float, str, int], str, Candidate]] = {}
    for name, candidates in found.items():
        for candidate in candidates:
            if candidate.trace_id == WINDOW or candidate.score <= 0:
                continue
            strength = weights.get(name, PLUGIN_WEIGHT) * min(candidate.score, 1.0)
            key = (-round(strength, 9), name, candidate.rank)
            held = best.get(candidate.trace_id)
            if held is None or key < held[0]:
                best[candidate.trace_id] = (key, name, candidate)
    order = sorted(best, key=lambda trace: (trace not in failed, trace))
    listed = []
    for trace in order[:TRACES_LISTED]:
        _, name, candidate = best[trace]
        listed.append(
            {
                "trace_id": trace,
                "failed": trace in failed,
                "component": candidate.component,
                "span_id": candidate.span_id,
                "step": candidate.step,
                "analyzer": name,
                "kind": candidate.kind,
                "score": candidate.score,
                "reason": candidate.reason,
            }
        )
    return {"traces": len(best), "listed": listed}
