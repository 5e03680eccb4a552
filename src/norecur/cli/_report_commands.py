"""Commands over the enforcement signals: report, status, metrics."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from norecur import __version__
from norecur.cli._app import app
from norecur.cli._commands import _config, _parse_date
from norecur.cli._output import write_output
from norecur.config import Config
from norecur.errors import NorecurError
from norecur.metrics import (
    NO_TEAM,
    build_report,
    load_signal_data,
    prometheus_text,
    quarter_of,
    quarter_window,
)
from norecur.report import print_status, render_html, render_markdown, status_summary
from norecur.store import open_store


class ReportFormat(StrEnum):
    markdown = "markdown"
    html = "html"
    json = "json"


class StatusFormat(StrEnum):
    text = "text"
    json = "json"


_DATABASE_HELP = "Store URL (default: $NORECUR_DATABASE_URL, else .norecur/norecur.db)."
_AS_OF_HELP = "Date the signals are measured at (default: the config's `today`, else today)."
_CONFIG_HELP = "A norecur.toml or pyproject.toml (default: the nearest one from here)."
_QUARTER_HELP = "Quarter to review, e.g. 2026-Q2 (default: the last complete one before --as-of)."

Database = Annotated[str | None, typer.Option("--database", help=_DATABASE_HELP)]
AsOf = Annotated[str | None, typer.Option("--as-of", help=_AS_OF_HELP)]
ConfigPath = Annotated[Path | None, typer.Option("--config", help=_CONFIG_HELP)]
Quarter = Annotated[str | None, typer.Option("--quarter", help=_QUARTER_HELP)]
TeamOption = Annotated[
    str | None,
    typer.Option("--team", help=f"Only this team ({NO_TEAM} for incidents without one)."),
]


def last_complete_quarter(as_of: date) -> str:
    """The newest quarter that ended before ``as_of`` (on 2026-11-21, ``2026-Q3``)."""
    first, _last = quarter_window(quarter_of(as_of))
    return quarter_of(first - timedelta(days=1))


def _quarter(label: str) -> tuple[date, date]:
    try:
        return quarter_window(label)
    except ValueError:
        raise NorecurError(f"--quarter expects a quarter such as 2026-Q2, got {label!r}") from None


def _window(
    quarter: str | None, start: str | None, end: str | None, as_of: date
) -> tuple[date, date]:
    if quarter is not None and (start is not None or end is not None):
        raise NorecurError("give --quarter, or --start and --end, not both")
    if (start is None) != (end is None):
        raise NorecurError("--start and --end go together")
    if start is not None and end is not None:
        first, last = _date(start, "--start"), _date(end, "--end")
        if last < first:
            raise NorecurError(f"--end {last} is before --start {first}")
        return first, last
    return _quarter(quarter or last_complete_quarter(as_of))


def _date(value: str, option: str) -> date:
    parsed = _parse_date(value, option)
    if parsed is None:  # only for None, which callers never pass
        raise NorecurError(f"{option} expects a date")
    return parsed


def _as_of(value: str | None, config: Config) -> date:
    return _parse_date(value, "--as-of") or config.today or date.today()


def _report(
    database: str | None,
    config: Config,
    *,
    start: date,
    end: date,
    as_of: date,
    team: str | None = None,
    trend_quarters: int = 1,
) -> dict[str, Any]:
    """Open the store, read the signal rows, and build the report over the window."""
    with open_store(database) as store:
        data = load_signal_data(store.engine)
    if team is not None:
        teams = sorted({incident.team or NO_TEAM for incident in data.incidents})
        if team not in teams:
            known = ", ".join(teams) if teams else "none (run `norecur sync` first)"
            raise NorecurError(f"no incidents for team {team!r}; teams in the store: {known}")
    return build_report(
        data,
        start=start,
        end=end,
        as_of=as_of,
        config=config,
        team=team,
        trend_quarters=trend_quarters,
    )


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@app.command()
def report(
    quarter: Quarter = None,
    start: Annotated[
        str | None, typer.Option(help="First day of a custom window (with --end).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last day of a custom window, inclusive (with --start).")
    ] = None,
    team: TeamOption = None,
    as_of: AsOf = None,
    database: Database = None,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ReportFormat.markdown,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, not stdout.")
    ] = None,
    trend_quarters: Annotated[
        int,
        typer.Option(
            min=1,
            help="Quarters the trend sections (causes, apparatus, eval, MTTx) cover, ending "
            "with the window's last quarter.",
        ),
    ] = 4,
    config_path: ConfigPath = None,
) -> None:
    """The quarterly trends review: closure per team, SLO, backlog, causes, apparatus, MTTx.

    Reads the store that `norecur sync` fills. Markdown for reviews in git, one self-contained HTML page with charts, or JSON (the document both are drawn from).

    Example: [bold]norecur report --quarter 2026-Q2 --format html -o review.html[/bold]
    """
    config = _config(config_path, Path.cwd())
    when = _as_of(as_of, config)
    first, last = _window(quarter, start, end, when)
    data = _report(
        database,
        config,
        start=first,
        end=last,
        as_of=when,
        team=team,
        trend_quarters=trend_quarters,
    )
    if output_format is ReportFormat.json:
        text = _json(data)
    elif output_format is ReportFormat.html:
        text = render_html(data, version=__version__)
    else:
        text = render_markdown(data)
    write_output(text, output)


@app.command()
def status(
    quarter: Quarter = None,
    team: TeamOption = None,
    as_of: AsOf = None,
    database: Database = None,
    output_format: Annotated[
        StatusFormat, typer.Option("--format", "-f", help="text for people, json for tools.")
    ] = StatusFormat.text,
    config_path: ConfigPath = None,
) -> None:
    """What needs attention now: teams under the closure threshold, overdue follow-ups, SLO breaches, the backlog.

    Closure and SLO are measured over the last complete quarter (or --quarter); the backlog and overdue follow-ups as of --as-of.

    Example: [bold]norecur status --as-of 2026-11-21[/bold]
    """
    config = _config(config_path, Path.cwd())
    when = _as_of(as_of, config)
    first, last = _quarter(quarter or last_complete_quarter(when))
    data = _report(database, config, start=first, end=last, as_of=when, team=team)
    if output_format is StatusFormat.json:
        sys.stdout.write(_json(status_summary(data)))
        return
    print_status(data, Console(highlight=False))


@app.command()
def metrics(
    prometheus: Annotated[
        bool,
        typer.Option("--prometheus", help="Prometheus text exposition format (the only one yet)."),
    ] = False,
    quarter: Quarter = None,
    as_of: AsOf = None,
    database: Database = None,
    config_path: ConfigPath = None,
) -> None:
    """Print the signals for a scraper: closure, SLO, backlog, causes, apparatus, MTTx.

    Window-based signals cover the last complete quarter (or --quarter); the backlog and overdue follow-ups are as of --as-of.

    Example: [bold]norecur metrics --prometheus > norecur.prom[/bold]
    """
    if not prometheus:
        raise NorecurError("choose an output format: --prometheus")
    config = _config(config_path, Path.cwd())
    when = _as_of(as_of, config)
    first, last = _quarter(quarter or last_complete_quarter(when))
    data = _report(database, config, start=first, end=last, as_of=when)
    sys.stdout.write(prometheus_text(data))


__all__: list[str] = []
