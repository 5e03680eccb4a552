"""Commands over the store: sync."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from norecur.cli._app import app
from norecur.cli._output import progress_bar
from norecur.config import find_config, load_config
from norecur.errors import NorecurError
from norecur.store import Store, SyncReport, open_store, sync

__all__: list[str] = []


class SyncFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("sync")
def sync_command(
    path: Annotated[Path, typer.Argument(help="Folder of postmortems (searched recursively).")],
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database URL (default: $NORECUR_DATABASE_URL, else sqlite:///.norecur/norecur.db).",
        ),
    ] = None,
    git_history: Annotated[
        bool,
        typer.Option(
            "--git-history/--no-git-history",
            help="Date follow-up status changes from the git history of changed files.",
        ),
    ] = True,
    output_format: Annotated[
        SyncFormat, typer.Option("--format", "-f", help="text for people, json for tools.")
    ] = SyncFormat.text,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: CPU count).")
    ] = None,
) -> None:
    """Index a folder of postmortems into the store; only files that changed are read.

    A file that fails is reported, and its previously indexed version stays.

    Exit 0 when every file is indexed, 1 when some file failed, 2 for a database or usage error.

    Example: [bold]norecur sync postmortems/ --database postgresql://localhost/norecur[/bold]
    """
    if not path.is_dir():
        raise NorecurError("not a folder: sync indexes a folder of postmortems", path=str(path))
    config = load_config(find_config(path))
    store = open_store(database)
    try:
        with progress_bar("syncing", enabled=output_format is SyncFormat.text) as progress:
            report = sync(
                store,
                path,
                git_history=git_history,
                max_bytes=config.max_file_bytes,
                jobs=jobs,
                progress=progress,
            )
    finally:
        store.dispose()
    if output_format is SyncFormat.json:
        payload = {"database": store.url, **report.to_dict()}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_text(report, store, path)
    raise typer.Exit(report.exit_code)


def _print_text(report: SyncReport, store: Store, path: Path) -> None:
    for error in report.errors:
        print(error.one_line(path))
    errors = len(report.errors)
    history = f"; {report.history_added} follow-up status change" + (
        "s" if report.history_added != 1 else ""
    )
    history += " recorded" + (" (with git history)" if report.git_history else "")
    print(
        f"Synced {path} into {store.url}: {len(report.added)} added, {len(report.updated)} "
        f"updated, {len(report.deleted)} deleted, {report.unchanged} unchanged, {errors} "
        f"error{'s' if errors != 1 else ''}{history}."
    )
