"""Opening the store: one URL, SQLite or PostgreSQL, migrated to the code's schema on open.

The URL comes from the caller, else ``NORECUR_DATABASE_URL``, else a SQLite file in
``.norecur/norecur.db`` under the current folder. ``postgresql://`` and ``postgres://`` mean
PostgreSQL through psycopg 3.

SQLite runs with foreign keys on, write-ahead logging, a busy timeout, and real transactions:
SQLAlchemy emits ``BEGIN`` itself, so DDL and every batch of a sync are atomic (the sqlite3
module's legacy mode would commit DDL on its own and read outside transactions).
PostgreSQL sessions run in UTC.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from norecur.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported where migrations run, not here: every CLI command imports the store, and
# Alembic alone would add a fifth of a second to each start.

__all__ = ["DATABASE_URL_ENV", "DEFAULT_DATABASE_URL", "Store", "database_url", "open_store"]

DATABASE_URL_ENV = "NORECUR_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///.norecur/norecur.db"
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK = 0x6E6F_7265
"""PostgreSQL advisory lock key held while migrating, so two processes never migrate at once."""
_SYNC_LOCK = 0x6E6F_7273
"""PostgreSQL advisory lock key a sync holds for its whole run."""
_BEGIN_OPTION = "norecur_sqlite_begin"


def database_url(url: str | None = None) -> str:
    """The URL to use: ``url``, else ``$NORECUR_DATABASE_URL``, else the default SQLite file;
    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``."""
    chosen = url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    for prefix in ("postgresql://", "postgres://"):
        if chosen.startswith(prefix):
            return "postgresql+psycopg://" + chosen.removeprefix(prefix)
    return chosen


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """Open the store at ``url`` (see :func:`database_url`) and migrate it to the code's schema.

    Raises :class:`~norecur.errors.StoreError` for a malformed or unsupported URL, a database that
    cannot be reached, or a database whose schema is newer than this norecur.
    """
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise StoreError(
            f"not a database URL: {resolved!r} (expected sqlite:///PATH or postgresql://HOST/DB)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(parsed)
    elif backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise StoreError(
                f"PostgreSQL is reached through psycopg 3: use postgresql+psycopg:// "
                f"(or postgresql://), not {parsed.drivername}://"
            )
        engine = _postgresql_engine(parsed)
    else:
        raise StoreError(
            f"unsupported database {backend!r} in {_shown(parsed)}: norecur stores into SQLite or "
            "PostgreSQL"
        )
    store = Store(engine)
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.dispose()
            raise
    return store


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store's folder: {exc.strerror or exc}", path=str(folder)
            ) from None
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"cannot use {_shown(url)}: {exc}") from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL keeps every commit atomic and the file consistent after a crash.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a writer never has to upgrade a read
        # snapshot that another writer has made stale.
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def _postgresql_engine(url: URL) -> Engine:
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"cannot use {_shown(url)}: {exc}") from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()
        dbapi_connection.commit()

    return engine


class Store:
    """An open store: an engine plus sessions and migrations. Close it with :meth:`dispose`
    (or use it as a context manager)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return _shown(self.engine.url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A SQLAlchemy session in one transaction, committed when the block ends normally and
        rolled back when it raises. ``write=True`` takes SQLite's write lock at the start, so a
        transaction that reads and then writes cannot fail on a snapshot another writer made
        stale (no effect on PostgreSQL)."""
        with (
            Session(self._bind(write), expire_on_commit=False) as session,
            self._errors(),
            session.begin(),
        ):
            yield session

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction (committed at the end of the block unless it
        raises); for bulk statements where the ORM's bookkeeping is not wanted."""
        with self._errors(), self._bind(write).begin() as connection:
            yield connection

    def _bind(self, write: bool) -> Engine:
        if write and self.dialect == "sqlite":
            return self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        return self.engine

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The database going away, a lock timeout or a full disk become one-line StoreErrors;
        anything else (a bug) keeps its traceback."""
        try:
            yield
        except OperationalError as exc:
            raise StoreError(_first_line(exc.orig or exc), path=self.url) from exc

    @contextmanager
    def sync_lock(self) -> Iterator[None]:
        """Held by a sync for its whole run, so two syncs never interleave their batches.

        A second sync fails at once with :class:`~norecur.errors.StoreError`. PostgreSQL: a
        session advisory lock; SQLite: an advisory lock on ``<database>.sync-lock`` beside the
        file. Both are released by the operating system or the server if the process dies.
        """
        busy = StoreError(
            "another norecur sync is writing to this store; run again when it has finished",
            path=self.url,
        )
        if self.dialect == "postgresql":
            with self._errors(), self.engine.connect() as connection:
                key = {"key": _SYNC_LOCK}
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar()
                connection.commit()
                if not got:
                    raise busy
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                    connection.commit()
            return
        database = self.engine.url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            yield
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX: no lock
            yield
            return
        with open(database + ".sync-lock", "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self._errors(), self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def upgrade(self) -> None:
        """Migrate the database to the newest schema this code knows; refuse a newer one.

        A store already at the newest schema is only read (no write lock is taken); otherwise
        the migration runs in one transaction, holding the write lock (SQLite) or an advisory
        lock (PostgreSQL), so two processes opening a new store never both migrate it.
        """
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(_alembic_config())
        known = {revision.revision for revision in script.walk_revisions()}
        head = script.get_current_head()

        def check(current: str | None) -> None:
            if current is not None and current not in known:
                raise StoreError(
                    f"the database schema is at revision {current!r}, newer than this norecur "
                    f"knows (its newest is {head!r}); upgrade norecur to use this store",
                    path=self.url,
                )

        try:
            with self.transaction() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            check(current)
            if current == head:
                return
            with self.transaction(write=True) as connection:
                if self.dialect == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                current = MigrationContext.configure(connection).get_current_revision()
                check(current)
                if current != head:
                    config = _alembic_config()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the store: {_first_line(getattr(exc, 'orig', None) or exc)}",
                path=self.url,
            ) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _alembic_config() -> AlembicConfig:
    """Alembic's configuration, built in code: no alembic.ini is needed at run time."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
