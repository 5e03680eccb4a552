"""Evidence for an incident window, and the manifest that says exactly what was collected.

Every file given is hashed (sha256) and read; spans, logs, metric points, KPI points and records
are kept inside the incident window widened by :data:`MARGIN_NS` on each side (a cause often
shows a little before the alert; a recovery a little after), change events are all kept (the
change that caused an incident may land long before it). A span store contributes the spans of
the same window. The manifest lists every input with its hash, reader, counts and skipped
records, and the window, so :func:`collect_from_manifest` can collect the same evidence again
and refuses when a file changed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from norecur.errors import NorecurError
from norecur.investigate._incident import Incident
from norecur.telemetry import Observations, ParquetBackend, ReadReport, read_observations

__all__ = [
    "MARGIN_NS",
    "Collected",
    "Sources",
    "collect",
    "collect_from_manifest",
    "relative_to",
]

MARGIN_NS = 30 * 60 * 1_000_000_000
"""How far before the incident's start and after its end evidence is collected."""
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Sources:
    """Where evidence may come from."""

    telemetry: tuple[Path, ...] = ()
    """Trace, log and metric files (format detected per file)."""
    baseline: tuple[Path, ...] = ()
    """Files of a fault-free window of the same system."""
    events: tuple[Path, ...] = ()
    """Change events (JSON Lines or CSV)."""
    records: Path | None = None
    """Request-level rows whose quality number may have moved."""
    value: str | None = None
    """The measure column of ``records``."""
    kpis: tuple[Path, ...] = ()
    """KPI series (CSV, Parquet, JSON Lines, or Prometheus range-query JSON)."""
    store: Path | None = None
    """A span store written by ``norecur ingest``."""
    baseline_window: tuple[int, int] | None = None
    """With ``store``: a fault-free window to read from it as the baseline."""


@dataclass
class Collected:
    """The evidence of one incident window and its manifest."""

    incident: Observations
    baseline: Observations | None
    window: tuple[int, int]
    manifest: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise NorecurError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    return digest.hexdigest()


def _window(incident: Incident) -> tuple[int, int]:
    end = incident.end_ns if incident.end_ns is not None else incident.alert_ns
    end = max(end if end is not None else incident.start_ns, incident.start_ns)
    return incident.start_ns - MARGIN_NS, end + MARGIN_NS


def _entry(path: Path, read: ReadReport | None, kind: str) -> dict[str, Any]:
    return {
        "path": os.fspath(path),
        "sha256": _sha256(path),
        "bytes": path.stat().st_size,
        "kind": kind,
        "reader": read.reader if read is not None else kind,
        "records": read.spans if read is not None else None,
        "skipped": [error.one_line() for error in read.skipped] if read is not None else [],
    }


def collect(incident: Incident, sources: Sources) -> Collected:
    """Collect the evidence of ``incident`` from ``sources`` (module docstring)."""
    start, end = _window(incident)
    observed = read_observations(list(sources.telemetry))
    failed = [error.one_line() for error in observed.failed]
    observed = observed.window(start, end)
    entries = [_entry(Path(read.path), read, "telemetry") for read in observed.reads]
    if sources.store is not None:
        spans = ParquetBackend(sources.store).scan(start_ns=start, end_ns=end)
        observed = _replace(observed, spans=_concat(observed.spans, spans))
        entries.append(
            {"path": os.fspath(sources.store), "kind": "span-store", "records": spans.num_rows}
        )
    if sources.events:
        from norecur.rca.kpi.events import read_events

        tables = [read_events(path) for path in sources.events]
        observed = _replace(observed, events=pa.concat_tables(tables))
        entries += [
            {**_entry(path, None, "events"), "records": table.num_rows}
            for path, table in zip(sources.events, tables, strict=True)
        ]
    if sources.records is not None:
        from norecur.rca.kpi.series import read_records

        rows = read_records(sources.records)
        observed = _replace(observed, records=rows)
        entries.append({**_entry(sources.records, None, "records"), "records": rows.num_rows})
    if sources.kpis:
        from norecur.rca.kpi.series import read_kpi_series

        series = [read_kpi_series(path) for path in sources.kpis]
        points = pa.concat_tables(series)
        inside = pc.and_(
            pc.greater_equal(points["time_ns"], start), pc.less(points["time_ns"], end)
        )
        observed = _replace(observed, kpis=points.filter(inside))
        entries += [
            {**_entry(path, None, "kpis"), "records": table.num_rows}
            for path, table in zip(sources.kpis, series, strict=True)
        ]
    baseline = None
    baseline_entries: list[dict[str, Any]] = []
    if sources.baseline:
        baseline = read_observations(list(sources.baseline))
        failed += [error.one_line() for error in baseline.failed]
        baseline_entries = [_entry(Path(read.path), read, "baseline") for read in baseline.reads]
    if sources.store is not None and sources.baseline_window is not None:
        quiet = ParquetBackend(sources.store).scan(
            start_ns=sources.baseline_window[0], end_ns=sources.baseline_window[1]
        )
        baseline = _replace(
            baseline or Observations(), spans=_concat((baseline or Observations()).spans, quiet)
        )
        baseline_entries.append(
            {
                "path": os.fspath(sources.store),
                "kind": "span-store",
                "window": list(sources.baseline_window),
                "records": quiet.num_rows,
            }
        )
    manifest = {
        "schema": "norecur.investigation-manifest",
        "schema_version": MANIFEST_VERSION,
        "incident": incident.to_dict(),
        "window": {"start_ns": start, "end_ns": end, "margin_ns": MARGIN_NS},
        "inputs": entries,
        "baseline": baseline_entries,
        "unreadable": failed,
        "value": sources.value,
    }
    return Collected(incident=observed, baseline=baseline, window=(start, end), manifest=manifest)


def collect_from_manifest(manifest: dict[str, Any], *, root: Path | None = None) -> Collected:
    """Collect again what ``manifest`` lists; refuse (naming the file) when a file changed.

    Relative paths are taken from ``root`` (the folder the manifest was written to)."""

    def where(text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() or root is None else root / path

    for entry in [*manifest.get("inputs", []), *manifest.get("baseline", [])]:
        if "sha256" in entry and _sha256(where(entry["path"])) != entry["sha256"]:
            raise NorecurError(
                "changed since the investigation collected it (sha256 differs)",
                path=entry["path"],
            )
    by_kind: dict[str, list[Path]] = {}
    store: Path | None = None
    baseline_window: tuple[int, int] | None = None
    for entry in manifest.get("inputs", []):
        if entry["kind"] == "span-store":
            store = where(entry["path"])
        else:
            by_kind.setdefault(entry["kind"], []).append(where(entry["path"]))
    for entry in manifest.get("baseline", []):
        if entry["kind"] == "span-store":
            store = where(entry["path"])
            baseline_window = (int(entry["window"][0]), int(entry["window"][1]))
        else:
            by_kind.setdefault("baseline", []).append(where(entry["path"]))
    records = by_kind.get("records", [])
    sources = Sources(
        telemetry=tuple(by_kind.get("telemetry", [])),
        baseline=tuple(by_kind.get("baseline", [])),
        events=tuple(by_kind.get("events", [])),
        kpis=tuple(by_kind.get("kpis", [])),
        records=records[0] if records else None,
        value=manifest.get("value"),
        store=store,
        baseline_window=baseline_window,
    )
    return collect(Incident.from_dict(manifest["incident"]), sources)


def _concat(first: pa.Table, second: pa.Table) -> pa.Table:
    if first.num_rows == 0:
        return second
    return pa.concat_tables([first, second.cast(first.schema)])


def _replace(observed: Observations, **changes: Any) -> Observations:
    fields: dict[str, Any] = {
        "spans": observed.spans,
        "logs": observed.logs,
        "metrics": observed.metrics,
        "kpis": observed.kpis,
        "records": observed.records,
        "events": observed.events,
        "reads": observed.reads,
        "failed": observed.failed,
    }
    fields.update(changes)
    return Observations(**fields)


def relative_to(manifest: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``manifest`` with paths under ``folder`` written relative to it (a portable manifest)."""

    def rel(text: str) -> str:
        try:
            return os.path.relpath(text, folder)
        except ValueError:
            return text

    out = dict(manifest)
    out["inputs"] = [{**entry, "path": rel(entry["path"])} for entry in manifest["inputs"]]
    out["baseline"] = [{**entry, "path": rel(entry["path"])} for entry in manifest["baseline"]]
    return out
