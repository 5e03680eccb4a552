"""Helpers and fixtures for the store tests: a real database (SQLite file or PostgreSQL), real
files in, exact rows out.

Every store test runs twice, on SQLite and on PostgreSQL. PostgreSQL is 127.0.0.1:5432 with
trust auth (override with ``NORECUR_TEST_POSTGRES_URL``, a URL to a database we may connect to
and create databases from). One throwaway database serves the session, emptied before each test,
dropped at the end. When PostgreSQL cannot be reached its tests are skipped with a reason that
starts 'PostgreSQL unreachable'; under ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from norecur.store import Base, Store, open_store

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "postmortems"
NORECUR = Path(sys.executable).parent / "norecur"
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
PG_ADMIN_URL = os.environ.get(
    "NORECUR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TABLES = [table.name for table in Base.metadata.sorted_tables]


def _libpq(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test process, dropped at the end."""
    try:
        admin = psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        reason = (
            f"PostgreSQL unreachable at {make_url(PG_ADMIN_URL).render_as_string()}: "
            f"{str(exc).strip().splitlines()[0]} -- the PostgreSQL half of the store tests "
            "did NOT run"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL is required)")
        pytest.skip(reason)
    name = f"norecur_store_test_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of the six example postmortems, outside any git work tree."""
    target = tmp_path / "postmortems"
    shutil.copytree(EXAMPLES, target)
    return target


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two dumps are equal when nothing changed."""
    tables = {table.name: table for table in Base.metadata.sorted_tables}
    with store.session() as session:
        return {
            name: sorted(
                (tuple(row) for row in session.execute(select(table))),
                key=lambda row: tuple((value is None, str(value)) for value in row),
            )
            for name, table in tables.items()
        }


def count(store: Store, table: str) -> int:
    with store.session() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def rows(store: Store, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with store.session() as session:
        return [tuple(row) for row in session.execute(text(sql), params)]


def history(store: Store, path: str) -> list[tuple[str | None, str, datetime, str]]:
    """(follow-up key, status, changed_at, source) for one file, in follow-up and time order."""
    from norecur.store import FollowUpRow, FollowUpStatusChange, PostmortemRow

    with store.session() as session:
        query = (
            select(
                FollowUpRow.key,
                FollowUpStatusChange.status,
                FollowUpStatusChange.changed_at,
                FollowUpStatusChange.source,
            )
            .join(FollowUpRow, FollowUpRow.id == FollowUpStatusChange.follow_up_fk)
            .join(PostmortemRow, PostmortemRow.id == FollowUpRow.postmortem_fk)
            .where(PostmortemRow.path == path)
            .order_by(FollowUpRow.position, FollowUpStatusChange.changed_at)
        )
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a file (``count`` times, exactly), moving its mtime on."""
    content = path.read_text(encoding="utf-8")
    assert content.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(content.replace(old, new, count), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def run_norecur(
    *args: str | Path, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NORECUR_DATABASE_URL", "FORCE_COLOR")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    return subprocess.run(
        [str(NORECUR), *(str(arg) for arg in args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_consistent(
    store: Store, root: Path, follow_ups_in: Callable[[Path], int] | None = None
) -> dict[str, int]:
    """The store agrees with itself and with the files: every postmortem has its incident; every
    source_files row without an error is an indexed postmortem with the same path and hash; the
    follow-ups stored for a file are the file's (``follow_ups_in`` counts them; default: parse
    the file). Returns counts."""
    from norecur.document import read_postmortem

    if follow_ups_in is None:

        def follow_ups_in(path: Path) -> int:
            return len(read_postmortem(path).postmortem.follow_ups)

    orphans = rows(
        store,
        "SELECT p.id FROM postmortems p LEFT JOIN incidents i ON i.id = p.incident_fk "
        "WHERE i.id IS NULL",
    )
    assert orphans == [], "postmortem rows without their incident"
    stale = rows(
        store,
        "SELECT i.incident_id FROM incidents i LEFT JOIN postmortems p ON p.incident_fk = i.id "
        "WHERE p.id IS NULL AND i.source = 'file'",
    )
    assert stale == [], "file incidents without a postmortem"
    indexed = dict(rows(store, "SELECT path, content_hash FROM postmortems"))
    sources = rows(store, "SELECT path, content_hash, last_error FROM source_files")
    for path, content_hash, last_error in sources:
        if last_error is None:
            assert indexed.get(path) == content_hash, f"{path}: source_files disagrees"
    assert set(indexed) <= {path for path, _hash, _error in sources}
    follow_ups = dict(
        rows(
            store,
            "SELECT p.path, count(f.id) FROM postmortems p "
            "LEFT JOIN follow_ups f ON f.postmortem_fk = p.id GROUP BY p.path",
        )
    )
    current = {path for path, _hash, last_error in sources if last_error is None}
    for path, stored in follow_ups.items():
        if path not in current:
            continue  # its file fails now; the indexed version is an older one
        expected = follow_ups_in(root / path)
        assert stored == expected, f"{path}: {stored} follow-ups stored, {expected} in the file"
    return {"indexed": len(indexed), "sources": len(sources)}
