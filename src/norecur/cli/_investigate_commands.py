"""The investigate command: from an incident (or its alert payload) to a draft postmortem."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import orjson
import typer

from norecur.cli._app import app
from norecur.cli._rca_commands import parse_instant
from norecur.errors import NorecurError
from norecur.investigate import Incident, load_incident, open_incident

__all__: list[str] = []


def incident_from(path: Path) -> Incident:
    """The incident in ``path``: ``norecur incident open``'s JSON, or an alert payload
    (Alertmanager, PagerDuty, generic) opened on the fly."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        data = None  # open_incident names the file and the problem
    if isinstance(data, dict) and "start_ns" in data and "id" in data:
        return load_incident(path)
    return open_incident(path)


@app.command("investigate")
def investigate_command(
    incident_file: Annotated[
        Path,
        typer.Argument(
            metavar="INCIDENT",
            help="The incident (norecur incident open's JSON) or its alert payload.",
        ),
    ],
    telemetry: Annotated[
        list[Path] | None,
        typer.Option("--telemetry", "-t", help="Trace, log or metric file (repeatable)."),
    ] = None,
    baseline: Annotated[
        list[Path] | None,
        typer.Option("--baseline", help="A file of a fault-free window (repeatable)."),
    ] = None,
    events: Annotated[
        list[Path] | None, typer.Option("--events", help="Change events (repeatable).")
    ] = None,
    records: Annotated[
        Path | None, typer.Option("--records", help="Request-level rows whose KPI moved.")
    ] = None,
    value: Annotated[
        str | None, typer.Option("--value", help="With --records: the measure column.")
    ] = None,
    kpis: Annotated[
        list[Path] | None,
        typer.Option("--kpi", help="A KPI series, or Prometheus range-query JSON (repeatable)."),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="Collect exactly what an earlier investigation's manifest.json lists (refused "
            "when a file changed), instead of the evidence options.",
        ),
    ] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Span store written by norecur ingest.")
    ] = None,
    baseline_window: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--baseline-window", metavar="START END", help="With --store: a fault-free window."
        ),
    ] = None,
    narrate_with: Annotated[
        str | None,
        typer.Option(
            "--narrate-with",
            metavar="URL",
            help="An OpenAI-compatible endpoint (e.g. http://localhost:8000/v1) that writes a "
            "narrative for the summary; off by default. The key, if any, is read from "
            "OPENAI_API_KEY.",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="With --narrate-with: the model to ask.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the draft and its attachments.")
    ] = Path("investigation"),
    today: Annotated[
        str | None, typer.Option("--today", help="Date the draft is written (default: today).")
    ] = None,
) -> None:
    """Investigate an incident: collect its evidence, find the root cause, write a draft postmortem with eval cases.

    Collects the incident window's traces, logs, metrics, change events and records (a manifest records exactly what, so the investigation can be re-run), runs every analyzer, exports the failing traces as eval cases (JSONL, Langfuse dataset items, Phoenix CSV), writes the draft postmortem with the fault report attached, and lints it: the findings left are the places a human must act, listed here.

    Exit 0 when the draft was written (its gaps listed); 2 when the incident cannot be read, or when an input could not be read (the draft is still written from the rest, and the unreadable inputs are named).

    Example: [bold]norecur investigate incident.json -t traces.json --events changes.jsonl -o inc/[/bold]
    """
    from norecur.investigate._collect import Sources, collect_from_manifest
    from norecur.investigate._investigate import investigate

    incident = incident_from(incident_file)
    quiet = None
    if baseline_window is not None:
        if store is None:
            raise NorecurError("--baseline-window reads from a span store: add --store")
        quiet = (parse_instant(baseline_window[0]), parse_instant(baseline_window[1]))
    if (narrate_with is None) != (model is None):
        raise NorecurError("--narrate-with and --model go together")
    when = date.fromisoformat(today) if today else date.today()
    again = None
    if manifest is not None:
        try:
            listed = orjson.loads(manifest.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise NorecurError(f"not a manifest: {exc}", path=str(manifest)) from None
        again = collect_from_manifest(listed, root=manifest.parent)
        value = value or listed.get("value")
    began = time.perf_counter()
    result = investigate(
        incident,
        Sources(
            telemetry=tuple(telemetry or ()),
            baseline=tuple(baseline or ()),
            events=tuple(events or ()),
            kpis=tuple(kpis or ()),
            records=records,
            value=value,
            store=store,
            baseline_window=quiet,
        ),
        out,
        today=when,
        narrator=(narrate_with, model) if narrate_with and model else None,
        collected=again,
    )
    elapsed = time.perf_counter() - began
    print(
        f"{result.root_cause or 'no root cause found'}"
        + (f" ({result.cause_class})" if result.cause_class else "")
        + f"; {result.eval_cases} eval cases; draft {result.draft} in {elapsed:.1f} s"
    )
    for role, path in sorted(result.files.items()):
        print(f"  {role:<22} {path}")
    if result.gaps:
        print(f"{len(result.gaps)} place(s) need a human:")
        for finding in result.gaps:
            sys.stdout.write(f"  {finding.path}:{finding.line}: {finding.code} {finding.message}\n")
    for line in result.unreadable:
        print(f"error: {line}", file=sys.stderr)
    if result.unreadable:
        raise typer.Exit(2)
