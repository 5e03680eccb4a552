"""Typer application and the error boundary: a NorecurError is one line on stderr, exit 2."""

from __future__ import annotations

import sys

import typer

from norecur.errors import NorecurError

app = typer.Typer(
    name="norecur",
    help="Turn every incident in an AI/LLM system into a change that prevents it from recurring.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Console entry point."""
    # Importing the command modules registers their commands on `app`.
    from norecur.cli import (  # noqa: F401
        _commands,
        _incident_commands,
        _investigate_commands,
        _kpi_commands,
        _rca_commands,
        _report_commands,
        _store_commands,
        _telemetry_commands,
    )

    try:
        app()
    except NorecurError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
