"""Commands over telemetry: ingest."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from norecur.cli._app import app
from norecur.cli._output import progress_bar
from norecur.telemetry import IngestReport, ingest

__all__: list[str] = []

_SHOWN_SKIPS = 20
"""Skipped records listed one per line in text output; JSON lists them all."""


class IngestFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("ingest")
def ingest_command(
    inputs: Annotated[
        list[Path], typer.Argument(metavar="INPUT", help="Trace or agent-log files.")
    ],
    store: Annotated[
        Path, typer.Option("--store", help="Span store folder (created when missing).")
    ],
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format", help="Reader name (otlp-json, langfuse...); default: detect."
        ),
    ] = None,
    output_format: Annotated[
        IngestFormat, typer.Option("--format", "-f", help="text for people, json for tools.")
    ] = IngestFormat.text,
) -> None:
    """Store spans from trace files in a Parquet span store, partitioned by UTC day.

    A file already ingested (same sha256, listed in the store's _ingested.json) is skipped, so running the same command twice stores nothing twice. A file that cannot be read stores nothing; the other files are still stored.

    Exit 0 when every record was stored, 1 when the readers skipped malformed records, 2 when a file could not be read or the usage is wrong.

    Example: [bold]norecur ingest traces/*.json --store .norecur/spans[/bold]
    """
    with progress_bar("ingesting", enabled=output_format is IngestFormat.text) as bar:
        progress = None
        if bar is not None:

            def progress(files_done: int, files_total: int, spans: int) -> None:
                bar(files_done, files_total, f" ({spans:,} spans)")

        report = ingest(inputs, store, input_format=input_format, progress=progress)
    for error in report.failed:
        print(f"error: {error.one_line()}", file=sys.stderr)
    if output_format is IngestFormat.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_text(report)
    raise typer.Exit(report.exit_code)


def _print_text(report: IngestReport) -> None:
    for file in report.files:
        if file.read is None:
            print(f"{file.path}: already ingested (sha256 {file.sha256[:12]}), skipped")
        else:
            print(file.read.summary())
    skipped = report.skipped
    for error in skipped[:_SHOWN_SKIPS]:
        print(f"  skipped {error.one_line()}")
    if len(skipped) > _SHOWN_SKIPS:
        print(f"  ... and {len(skipped) - _SHOWN_SKIPS} more skipped (--format json lists all)")
    stored = [file for file in report.files if file.read is not None]
    known = len(report.files) - len(stored)
    days = report.days
    per_day = ", ".join(f"{day}: {count}" for day, count in days.items())
    print(
        f"Ingested {len(stored)} file{'s' if len(stored) != 1 else ''} into {report.root}: "
        f"{report.spans} span{'s' if report.spans != 1 else ''} in {len(days)} "
        f"day{'s' if len(days) != 1 else ''}{f' ({per_day})' if per_day else ''}; "
        f"{known} already ingested, {len(report.failed)} unreadable, {len(skipped)} "
        f"record{'s' if len(skipped) != 1 else ''} skipped."
    )
