"""The incident commands: open an incident from an alert payload, show one."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from norecur.cli._app import app
from norecur.errors import NorecurError, escape_controls
from norecur.investigate import PAYLOAD_READERS, Incident, load_incident, open_incident

__all__: list[str] = []

incident_app = typer.Typer(
    name="incident",
    help="Open an incident from an alert payload (Alertmanager, PagerDuty, generic JSON); show one.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(incident_app, name="incident")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ShowFormat(StrEnum):
    text = "text"
    json = "json"


def _time(ns: int) -> str:
    """``2026-11-21T14:05:00Z``, with the fraction of a second when there is one."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z"


def _duration(ns: int) -> str:
    """``1h05m``, ``27m10s``, ``3d4h``, ``850ms``."""
    if ns < 1_000_000_000:
        return f"{ns // 1_000_000}ms"
    seconds = ns // 1_000_000_000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


def _window(incident: Incident) -> str:
    if incident.end_ns is None:
        return f"{_time(incident.start_ns)}..(open)"
    length = _duration(incident.end_ns - incident.start_ns)
    return f"{_time(incident.start_ns)}..{_time(incident.end_ns)} ({length})"


def summary_line(incident: Incident) -> str:
    """One line: id, title, window, services, severity, team, source (control characters
    escaped, so a hostile payload cannot break the line or drive the terminal)."""
    parts = [
        incident.id,
        incident.title,
        _window(incident),
        f"services: {', '.join(incident.services) or '-'}",
        f"severity: {incident.severity or '-'}",
        f"team: {incident.team or '-'}",
        f"source: {incident.source}",
    ]
    return escape_controls(" | ".join(parts))


def incident_json(incident: Incident) -> str:
    """The incident file: :meth:`Incident.to_dict` as JSON, keys sorted, one trailing newline."""
    return json.dumps(incident.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _details(incident: Incident) -> str:
    rows = [
        ("id", incident.id),
        ("title", incident.title),
        ("start", _time(incident.start_ns)),
        ("end", "(open)" if incident.end_ns is None else _time(incident.end_ns)),
        ("alerted", "-" if incident.alert_ns is None else _time(incident.alert_ns)),
        (
            "duration",
            "-" if incident.end_ns is None else _duration(incident.end_ns - incident.start_ns),
        ),
        ("services", ", ".join(incident.services) or "-"),
        ("severity", incident.severity or "-"),
        ("team", incident.team or "-"),
        ("source", incident.source),
    ]
    if incident.labels:
        rows.append(("labels", ""))
        rows.extend((f"  {key}", value) for key, value in sorted(incident.labels.items()))
    width = max(len(key) for key, _ in rows)
    return "".join(
        escape_controls(f"{key:<{width}}  {value}".rstrip()) + "\n" for key, value in rows
    )


@incident_app.command("open")
def open_command(
    payload: Annotated[
        Path,
        typer.Argument(
            metavar="PAYLOAD",
            help="The alert webhook's JSON body, saved to a file ('-' reads stdin).",
        ),
    ],
    payload_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help=f"auto (tell by its shape), {', '.join(PAYLOAD_READERS)}.",
        ),
    ] = "auto",
    incident_id: Annotated[
        str | None,
        typer.Option("--id", help="The incident's id (default: from the payload, or its hash)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the incident JSON to this file (default: stdout)."
        ),
    ] = None,
) -> None:
    """Open an incident from an alert payload: its window, services, severity and team.

    Reads a Prometheus Alertmanager webhook (version 4; one alert group is one incident: the earliest start, the worst severity, the union of the services), a PagerDuty v3 webhook (incident.triggered, incident.resolved...) or a generic {"title", "start", ...} object, and writes the incident as JSON with sorted keys. The same payload always gives the same incident and id. The one-line summary goes to stdout with --output, else to stderr.

    Exit 0 when the incident was opened, 2 when the payload cannot be read (the error names the file and the JSON field).

    Example: [bold]norecur incident open alert.json -o incident.json[/bold]
    """
    if str(payload) == "-":
        source: Path | bytes = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        source, name = payload, str(payload)
    incident = open_incident(source, format=payload_format, id=incident_id, name=name)
    text = incident_json(incident)
    if output is None:
        sys.stdout.write(text)
        print(summary_line(incident), file=sys.stderr)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NorecurError(f"cannot write: {exc.strerror or exc}", path=str(output)) from None
    print(summary_line(incident))


@incident_app.command("show")
def show_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="An incident file written by incident open.")
    ],
    output_format: Annotated[
        ShowFormat, typer.Option("--format", "-f", help="text or json.")
    ] = ShowFormat.text,
) -> None:
    """Show an incident file: its id, title, window, services, severity, team and labels.

    Example: [bold]norecur incident show incident.json[/bold]
    """
    incident = load_incident(file)
    if output_format is ShowFormat.json:
        sys.stdout.write(incident_json(incident))
        return
    sys.stdout.write(_details(incident))
