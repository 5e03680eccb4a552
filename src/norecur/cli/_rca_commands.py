"""The rca command: diagnose an incident window from trace, log and metric files."""

from __future__ import annotations

import inspect
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from norecur.cli._app import app
from norecur.cli._output import progress_bar, write_output
from norecur.errors import NorecurError
from norecur.rca import CLASS_RULES, default_analyzers, default_engine_analyzers, diagnose
from norecur.rca._classify import __doc__ as _classify_doc
from norecur.rca._combine import __doc__ as _combine_doc
from norecur.rca._diagnose import DEFAULT_WEIGHTS, ENGINE_PARAMS, PLUGIN_WEIGHT
from norecur.rca._render import to_dot, to_markdown, to_mermaid, to_text
from norecur.rca.analyzers import KpiShift
from norecur.telemetry import Observations, ParquetBackend, ReadReport, read_observations

__all__ = ["parse_instant"]


class RcaFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    mermaid = "mermaid"
    dot = "dot"


class DocFormat(StrEnum):
    text = "text"
    markdown = "markdown"


def parse_instant(text: str) -> int:
    """Nanoseconds since the epoch from an ISO 8601 time (no zone means UTC) or an integer of
    nanoseconds."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise NorecurError(
            f"not a time: {text!r} (use ISO 8601 such as 2026-11-21T14:05:00Z, or nanoseconds)",
            field="--window",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _window(bounds: tuple[str, str] | None, option: str) -> tuple[int, int] | None:
    if bounds is None:
        return None
    start, end = parse_instant(bounds[0]), parse_instant(bounds[1])
    if end <= start:
        raise NorecurError("the window ends before it starts", field=option)
    return start, end


def _with_store(
    observed: Observations, backend: ParquetBackend, bounds: tuple[int, int], label: str
) -> Observations:
    """``observed`` with the store's spans of ``bounds`` added (reported as one read)."""
    spans = backend.scan(start_ns=bounds[0], end_ns=bounds[1])
    reads = [*observed.reads, ReadReport(path=label, reader="span-store", spans=spans.num_rows)]
    return Observations(
        spans=pa.concat_tables([observed.spans, spans]) if observed.spans.num_rows else spans,
        logs=observed.logs,
        metrics=observed.metrics,
        reads=reads,
        failed=observed.failed,
    )


def _with_events(observed: Observations, paths: list[Path]) -> Observations:
    """``observed`` with the change events of ``paths`` (a file that cannot be read raises)."""
    from norecur.rca.kpi.events import read_events

    tables = [read_events(path) for path in paths]
    reads = [
        ReadReport(path=str(path), reader="events", spans=table.num_rows)
        for path, table in zip(paths, tables, strict=True)
    ]
    return Observations(
        spans=observed.spans,
        logs=observed.logs,
        metrics=observed.metrics,
        kpis=observed.kpis,
        records=observed.records,
        events=pa.concat_tables(tables),
        reads=[*observed.reads, *reads],
        failed=observed.failed,
    )


def _read(paths: list[Path], input_format: str | None, label: str, show: bool) -> Observations:
    with progress_bar(label, enabled=show) as bar:
        progress = None
        if bar is not None:

            def progress(done: int, total: int, records: int) -> None:
                bar(done, total, f" ({records:,} records)")

        return read_observations(paths, input_format=input_format, progress=progress)


@app.command("rca")
def rca_command(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(metavar="INPUT", help="Trace, agent-log, log and metric files."),
    ] = None,
    baseline: Annotated[
        list[Path] | None,
        typer.Option(
            "--baseline", help="A file of a fault-free window of the same system (repeatable)."
        ),
    ] = None,
    window: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--window",
            metavar="START END",
            help="Only the incident between START and END (ISO 8601, UTC when no zone).",
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="Span store written by norecur ingest: its spans in --window join the inputs "
            "(and those in --baseline-window form the baseline).",
        ),
    ] = None,
    baseline_window: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--baseline-window",
            metavar="START END",
            help="With --store: the fault-free window read from the store as the baseline.",
        ),
    ] = None,
    events: Annotated[
        list[Path] | None,
        typer.Option(
            "--events",
            help="Change events (JSON Lines or CSV: deploys, prompt, model, config, index "
            "changes) the incident may have followed (repeatable).",
        ),
    ] = None,
    derive_events: Annotated[
        bool,
        typer.Option(
            "--events-from-spans",
            help="Also derive change events from the spans: the first new service.version, "
            "model, prompt, index or dataset version of each component.",
        ),
    ] = False,
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="Request-level rows (CSV, Parquet, JSON Lines) whose quality number moved: the "
            "kpi-shift analyzer finds the slices that carry the change.",
        ),
    ] = None,
    value: Annotated[
        str | None,
        typer.Option(
            "--value", help="With --records: the measure column (default: the one numeric column)."
        ),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="Reader for every file (otlp-json, span-csv, logs, metric-csv...); default: "
            "detect per file.",
        ),
    ] = None,
    tenant_attribute: Annotated[
        str | None,
        typer.Option("--tenant-attribute", help="Span or resource attribute naming the tenant."),
    ] = None,
    slice_keys: Annotated[
        list[str] | None,
        typer.Option("--slice", help="Attribute to slice the blast radius by (repeatable)."),
    ] = None,
    output_format: Annotated[
        RcaFormat,
        typer.Option(
            "--format", "-f", help="text, json (the fault report), markdown, mermaid, dot."
        ),
    ] = RcaFormat.text,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Find the root cause of an incident: where it began, how it spread, which class it is.

    Reads every INPUT (format detected per file: OTLP JSON or protobuf, Langfuse, span trees, span CSV, agent conversations, logs, metric CSV), fits the analyzers on the --baseline files, ranks the components, classifies the top suspects into the AI cause taxonomy, and measures the blast radius. The JSON report is byte-identical for the same inputs.

    Exit 0 when every record was read, 1 when malformed records were skipped (the report lists them), 2 when a file could not be read or the usage is wrong.

    Example: [bold]norecur rca incident/*.json --baseline quiet/*.json --format markdown -o rca.md[/bold]
    """
    span = _window(window, "--window")
    quiet = _window(baseline_window, "--baseline-window")
    if not inputs and store is None and records is None:
        raise NorecurError("name INPUT files, a span store with --store and --window, or --records")
    if store is not None and span is None:
        raise NorecurError("--store needs --window (the incident's time range)", field="--store")
    if quiet is not None and store is None:
        raise NorecurError(
            "--baseline-window reads from a span store: add --store", field="--baseline-window"
        )
    show = output_format is RcaFormat.text and output is None
    incident = _read(inputs or [], input_format, "reading", show)
    reference = _read(baseline, input_format, "reading baseline", show) if baseline else None
    if store is not None:
        backend = ParquetBackend(store)
        incident = _with_store(incident, backend, span, str(store))
        if quiet is not None:
            reference = _with_store(reference or Observations(), backend, quiet, str(store))
    if events:
        incident = _with_events(incident, events)
    if derive_events and incident.spans.num_rows:
        from norecur.rca.kpi.events import events_from_spans

        derived = events_from_spans(incident.spans)
        known = [incident.events] if incident.events is not None else []
        incident = Observations(
            spans=incident.spans,
            logs=incident.logs,
            metrics=incident.metrics,
            kpis=incident.kpis,
            records=incident.records,
            events=pa.concat_tables([*known, derived]),
            reads=incident.reads,
            failed=incident.failed,
        )
    if records is not None:
        from norecur.rca.kpi.series import read_records

        rows = read_records(records)
        incident = Observations(
            spans=incident.spans,
            logs=incident.logs,
            metrics=incident.metrics,
            kpis=incident.kpis,
            records=rows,
            events=incident.events,
            reads=[
                *incident.reads,
                ReadReport(path=str(records), reader="records", spans=rows.num_rows),
            ],
            failed=incident.failed,
        )
    analyzers = default_engine_analyzers()
    if value is not None:
        analyzers = [KpiShift(value=value) if a.name == KpiShift.name else a for a in analyzers]
    for error in incident.failed + (reference.failed if reference else []):
        print(f"error: {error.one_line()}", file=sys.stderr)
    report = diagnose(
        incident,
        reference,
        analyzers=analyzers,
        window=span,
        tenant_attribute=tenant_attribute,
        slice_keys=tuple(slice_keys or ()),
    )
    render = {
        RcaFormat.text: to_text,
        RcaFormat.json: lambda r: r.to_json().decode(),
        RcaFormat.markdown: to_markdown,
        RcaFormat.mermaid: to_mermaid,
        RcaFormat.dot: to_dot,
    }[output_format]
    write_output(render(report), output)
    skipped = incident.skipped + (reference.skipped if reference else [])
    if incident.failed or (reference and reference.failed):
        raise typer.Exit(2)
    raise typer.Exit(1 if skipped else 0)


@app.command("analyzer")
def analyzer_command(
    name: Annotated[
        str | None, typer.Argument(help="Analyzer name (error-propagation, spectrum...).")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every analyzer and classification rule.")
    ] = False,
    output_format: Annotated[
        DocFormat, typer.Option("--format", "-f", help="text or markdown.")
    ] = DocFormat.text,
) -> None:
    """Explain an RCA analyzer: what it finds, its evidence, its parameters and their defaults.

    Example: [bold]norecur analyzer error-propagation[/bold]; [bold]norecur analyzer --all --format markdown > docs/analyzers.md[/bold]
    """
    registry = default_analyzers()
    if show_all == (name is not None):
        raise NorecurError("name one analyzer, or pass --all")
    if name is not None:
        chosen = registry.get(name)
        if chosen is None:
            known = ", ".join(analyzer.name for analyzer in registry)
            raise NorecurError(f"unknown analyzer {name!r}; known: {known}")
        sys.stdout.write(_analyzer_doc(chosen, markdown=output_format is DocFormat.markdown))
        return
    markdown = output_format is DocFormat.markdown
    parts = []
    if markdown:
        parts.append(
            "# RCA analyzers and classification rules\n\n"
            "Generated by `norecur analyzer --all --format markdown`; do not edit by hand.\n\n"
            "`norecur rca` runs every analyzer below, combines their candidates into one ranking "
            "(each analyzer a witness with the weight shown; see *Combining* at the end), "
            "classifies the top suspects with the classification rules, and measures the blast "
            "radius.\n"
        )
    parts.extend(_analyzer_doc(analyzer, markdown=markdown) for analyzer in registry)
    parts.append(_rules_doc(markdown=markdown))
    parts.append(_combining_doc(markdown=markdown))
    sys.stdout.write("\n".join(parts))


def _analyzer_doc(analyzer: type, *, markdown: bool) -> str:
    doc = inspect.cleandoc(analyzer.__doc__ or "")
    params = analyzer().get_params()
    weight = DEFAULT_WEIGHTS.get(analyzer.name, PLUGIN_WEIGHT)
    engine = ENGINE_PARAMS.get(analyzer.name, {})
    if markdown:
        rows = "\n".join(
            f"| `{key}` | `{value!r}` | `{engine.get(key, value)!r}` |"
            for key, value in params.items()
        )
        return (
            f"## `{analyzer.name}`\n\nEngine weight: {weight}\n\n{doc}\n\n"
            f"| Parameter | Default | In `norecur rca` |\n|---|---|---|\n{rows}\n"
        )
    lines = "\n".join(
        f"  {key} = {value!r}" + (f"  (norecur rca: {engine[key]!r})" if key in engine else "")
        for key, value in params.items()
    )
    return f"{analyzer.name} (engine weight {weight})\n\n{doc}\n\nParameters:\n{lines}\n"


def _rules_doc(*, markdown: bool) -> str:
    if markdown:
        body = "\n".join(f"### {rule.code} `{rule.name}`\n\n{rule.doc}\n" for rule in CLASS_RULES)
        return f"## Classification rules\n\n{inspect.cleandoc(_classify_doc or '')}\n\n{body}"
    return "Classification rules\n\n" + "\n".join(
        f"{rule.code} {rule.name}\n  {rule.doc}\n" for rule in CLASS_RULES
    )


def _combining_doc(*, markdown: bool) -> str:
    text = inspect.cleandoc(_combine_doc or "")
    return f"## Combining\n\n{text}\n" if markdown else f"Combining\n\n{text}\n"
