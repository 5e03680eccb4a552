"""Opening the store: URLs, migrations equal to the tables, refusing a newer schema, SQLite setup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from norecur.errors import StoreError
from norecur.store import (
    Base,
    IncidentRow,
    SourceFile,
    Store,
    database_url,
    open_store,
)


def test_migrated_schema_is_the_tables(store: Store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert store.revision() == "0001"


def test_opening_again_is_a_no_op(database_url: str):
    for _ in range(2):
        store = open_store(database_url)
        assert store.revision() == "0001"
        store.dispose()


def test_refuses_a_schema_newer_than_the_code(store: Store, database_url: str):
    with store.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"revision '9999', newer than this norecur knows"):
        open_store(database_url)


def test_times_come_back_aware_utc(store: Store):
    kolkata = timezone(timedelta(hours=5, minutes=30))
    with store.session() as session:
        session.add(
            IncidentRow(
                incident_id="INC-1",
                source="api",
                resolved=datetime(2026, 5, 12, 18, 53, tzinfo=kolkata),
                detected=datetime(2026, 5, 12, 13, 12),  # naive: taken as UTC
            )
        )
    with store.session() as session:
        incident = session.query(IncidentRow).one()
        assert incident.resolved == datetime(2026, 5, 12, 13, 23, tzinfo=UTC)
        assert incident.resolved.tzinfo is UTC
        assert incident.detected == datetime(2026, 5, 12, 13, 12, tzinfo=UTC)


def _add_then_fail(store: Store) -> None:
    with store.session() as session:
        session.add(
            SourceFile(
                path="a.md", content_hash="x", size=1, mtime_ns=1, synced_at=datetime.now(UTC)
            )
        )
        session.flush()
        raise RuntimeError


def test_session_rolls_back_when_the_block_raises(store: Store):
    with pytest.raises(RuntimeError):
        _add_then_fail(store)
    with store.session() as session:
        assert session.query(SourceFile).count() == 0


def test_url_resolution(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NORECUR_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///.norecur/norecur.db"
    assert database_url("postgresql://h/db") == "postgresql+psycopg://h/db"
    assert database_url("postgres://u@h:5433/db") == "postgresql+psycopg://u@h:5433/db"
    monkeypatch.setenv("NORECUR_DATABASE_URL", "postgresql://env/db")
    assert database_url() == "postgresql+psycopg://env/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_store_is_a_sqlite_file_in_dot_norecur(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("NORECUR_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    store = open_store()
    try:
        assert store.dialect == "sqlite"
        assert (tmp_path / ".norecur" / "norecur.db").is_file()
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://h/db", "through psycopg 3"),
        ("postgresql://nobody:secret@127.0.0.1:1/db", "connection"),
    ],
)
def test_bad_urls_are_one_line_store_errors(url: str, message: str):
    with pytest.raises(StoreError, match=message) as caught:
        open_store(url)
    assert "\n" not in caught.value.one_line()
    assert "secret" not in caught.value.one_line()
