"""Commands for a number that moved: attribute (change point, change events, slices) and drift."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from norecur.cli._app import app
from norecur.cli._output import write_output
from norecur.errors import NorecurError, escape_controls
from norecur.report._kpi import attribution_html, attribution_markdown, attribution_text

__all__: list[str] = []


class AttributeFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


class DriftFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("attribute")
def attribute_command(
    records: Annotated[
        Path | None,
        typer.Argument(help="Request-level rows (CSV, Parquet or JSON Lines; gzip too)."),
    ] = None,
    value: Annotated[
        str | None, typer.Option("--value", help="The measure column (a score, a 0/1 flag...).")
    ] = None,
    count: Annotated[
        str | None,
        typer.Option("--count", help="Denominator column for a ratio KPI (value / count)."),
    ] = None,
    dimensions: Annotated[
        str | None,
        typer.Option(
            "--dimensions", help="Comma-separated slice columns; default: every text column."
        ),
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Time column; default: time_ns, timestamp, time...")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Change events (JSON Lines or CSV).")
    ] = None,
    kpi: Annotated[
        Path | None,
        typer.Option("--kpi", help="A KPI series (CSV/Parquet/JSONL, or Prometheus range JSON)."),
    ] = None,
    drift: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            "--drift",
            metavar="BASE NEW",
            help="Two data snapshots (before, after) whose drift joins the evidence.",
        ),
    ] = None,
    output_format: Annotated[
        AttributeFormat, typer.Option("--format", "-f", help="text, json, markdown or html.")
    ] = AttributeFormat.text,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Explain a KPI that moved: when it changed, which change event caused it, which slice carries it.

    Finds the change point of the KPI (from --kpi, else the records aggregated over time), ranks the --events by their alignment with the onset and their effect inside the slices they touch, finds the smallest set of slices that explains the change (also when the aggregate moves the other way), names the cause class the evidence supports (or says it is insufficient), and splits the blame by Shapley values.

    Example: [bold]norecur attribute requests.parquet --value score --events deploys.jsonl --format html -o kpi.html[/bold]
    """
    from norecur.rca.kpi.attribution import attribute
    from norecur.rca.kpi.drift import compare, read_snapshot
    from norecur.rca.kpi.events import read_events
    from norecur.rca.kpi.series import read_kpi_series, read_records

    if records is None and kpi is None:
        raise NorecurError("name a records file, or a KPI series with --kpi")
    if records is not None and value is None:
        raise NorecurError("records need --value (the measure column)", field="--value")
    table = read_records(records, time=time) if records is not None else None
    if table is not None:
        for name in (value, count):
            if name is not None and name not in table.column_names:
                raise NorecurError(f"no column {name!r}", path=str(records))
    chosen = (
        [name.strip() for name in dimensions.split(",") if name.strip()] if dimensions else None
    )
    if chosen and table is not None:
        missing = [name for name in chosen if name not in table.column_names]
        if missing:
            raise NorecurError(f"no column {', '.join(map(repr, missing))}", field="--dimensions")
    report = attribute(
        table,
        value=value,
        count=count,
        dimensions=chosen,
        events=read_events(events) if events is not None else None,
        kpis=read_kpi_series(kpi) if kpi is not None else None,
        drift=compare(read_snapshot(drift[0]), read_snapshot(drift[1])) if drift else None,
    )
    render = {
        AttributeFormat.text: lambda d: attribution_text(d),
        AttributeFormat.json: lambda d: report.to_json().decode(),
        AttributeFormat.markdown: attribution_markdown,
        AttributeFormat.html: attribution_html,
    }[output_format]
    write_output(render(report.document), output)


@app.command("drift")
def drift_command(
    base: Annotated[Path, typer.Argument(help="The baseline snapshot (CSV, Parquet, JSONL).")],
    new: Annotated[Path, typer.Argument(help="The snapshot to compare with it.")],
    output_format: Annotated[
        DriftFormat, typer.Option("--format", "-f", help="text for people, json for tools.")
    ] = DriftFormat.text,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Compare two data snapshots: schema changes, distribution shifts (PSI, KS, chi-square), null-rate jumps, new and vanished categories, ranked.

    Exit 0 when nothing drifted, 1 when something did, 2 when a file cannot be read.

    Example: [bold]norecur drift features-2026-05-11.parquet features-2026-05-12.parquet[/bold]
    """
    from norecur.rca.kpi.drift import compare, read_snapshot, suggested_class

    report = compare(read_snapshot(base), read_snapshot(new))
    document = report.to_dict()
    suggestion = suggested_class(report)
    document["suggested_class"] = (
        None if suggestion is None else {"class": suggestion[0], "reason": suggestion[1]}
    )
    if output_format is DriftFormat.json:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    else:
        lines = [
            escape_controls(f"{finding.column}: {finding.reason}") for finding in report.findings
        ]
        if not lines:
            lines = ["No drift found."]
        if suggestion is not None:
            lines.append(f"Suggested class: {suggestion[0]} ({suggestion[1]})")
        text = "\n".join(lines) + "\n"
    write_output(text, output)
    raise typer.Exit(1 if report.findings else 0)
