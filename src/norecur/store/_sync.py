"""Sync: index a folder of postmortem files into the store, so the store agrees with the files.

What a run does, file by file (paths relative to the root, in sorted order):

- **unchanged** files are recognised without being read: same size and mtime as recorded in
  ``source_files``; then, for the others, the same SHA-256 content hash (only the size and mtime
  are updated). Only files whose content changed are parsed.
- **changed or new** files are parsed and indexed whole: incident (keyed by the front-matter
  ``id``), team (by name), postmortem, contributing factors, follow-ups and apparatus updates.
  Follow-ups are matched to their stored rows by ``id`` (by position when they have none), so
  their status history survives edits. ``position`` is the 0-based index in the file.
- a file that **fails** (unreadable, a contract issue, no id, a milestone with no zone, a value
  too long for its column) is reported; ``source_files.last_error`` records why, and whatever
  was indexed from it before stays as it was. Failing files are re-read on every run.
- two files with **one id**: the first path in sorted order is indexed, the other is an error.
  A file that takes over an id (a rename, an id fixed) takes over its postmortem row and history.
- files that are **gone** have their postmortem rows removed, and their incidents unless the
  incident came through the API (``source='api'``).

Follow-up status history (``follow_up_status_history``) only grows forward in time: an entry is
added when its status differs from the latest recorded one and it is not older than it, so the
latest entry is always the last status the file held. For each follow-up of a changed file:

1. ``git:<sha>``: when the root is in a git work tree (and ``git_history`` is on), each status
   change between the file's committed versions (first-parent history, so a merge counts when it
   lands), and the status a follow-up first appears with, at the commit time;
2. ``file:closed``: a ``done`` or ``wont-do`` status with a ``closed`` date that git does not show
   as a change (the follow-up first appears in git already closed, on or before that commit, or
   git history is not read), at 00:00 of that date in the incident's zone (UTC without one);
3. ``sync``: a status that still differs from the latest recorded one, at the time of the sync
   (also when a ``closed`` date would be older than the latest recorded change).

A change already recorded is never recorded twice, so re-running a sync adds nothing.

Every batch of files is one transaction holding the rows *and* the ``source_files`` rows that
describe them, so a sync killed at any moment leaves the store consistent, and the next run
carries on where it stopped.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from norecur.document import DEFAULT_MAX_BYTES
from norecur.errors import NorecurError
from norecur.store._discover import FoundFile, find_postmortems
from norecur.store._engine import Store
from norecur.store._git import GitHistory, Version
from norecur.store._prepare import Prepared, Task, init_worker, parse_quietly, prepare
from norecur.store._report import SyncFileError, SyncReport
from norecur.store._rows import (
    APPARATUS_COLUMNS,
    CONTRIBUTING_COLUMNS,
    FOLLOW_UP_COLUMNS,
    FileRows,
    follow_up_statuses,
    match_keys,
    midnight,
)
from norecur.store._tables import (
    ApparatusUpdateRow,
    ContributingFactorRow,
    FollowUpRow,
    FollowUpStatusChange,
    IncidentRow,
    PostmortemRow,
    SourceFile,
    Team,
)

__all__ = ["BATCH_FILES", "PARALLEL_THRESHOLD", "sync"]

BATCH_FILES = 500
"""Files per transaction."""
PARALLEL_THRESHOLD = 200
"""Below this many files to read, starting worker processes costs more than it saves."""
_IN_CHUNK = 5_000
"""Ids per ``IN (...)`` list."""
TERMINAL = frozenset({"done", "wont-do"})
_T = TypeVar("_T")

_teams: Table = Team.__table__  # type: ignore[assignment]
_incidents: Table = IncidentRow.__table__  # type: ignore[assignment]
_postmortems: Table = PostmortemRow.__table__  # type: ignore[assignment]
_follow_ups: Table = FollowUpRow.__table__  # type: ignore[assignment]
_history: Table = FollowUpStatusChange.__table__  # type: ignore[assignment]
_contributing: Table = ContributingFactorRow.__table__  # type: ignore[assignment]
_apparatus: Table = ApparatusUpdateRow.__table__  # type: ignore[assignment]
_sources: Table = SourceFile.__table__  # type: ignore[assignment]


Progress = Callable[[int, int], None]
"""Called with (files processed, files to process) as the sync goes."""


def sync(
    store: Store,
    root: Path | str,
    *,
    git_history: bool = True,
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    jobs: int | None = None,
    batch_size: int = BATCH_FILES,
    progress: Progress | None = None,
) -> SyncReport:
    """Index every postmortem under ``root`` into ``store`` (see the module documentation).

    ``now`` (default: the current time) stamps rows and ``sync`` history entries; a naive value
    is taken as UTC. Files are parsed in ``jobs`` worker processes (default: one per CPU) when
    there are at least :data:`PARALLEL_THRESHOLD` to parse; ``progress`` is called with (files
    done, files to do) after each batch. Raises :class:`~norecur.errors.NorecurError` when
    ``root`` is not a folder and :class:`~norecur.errors.StoreError` when the database fails or
    another sync holds the store; problems with files are in the report, never raised.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise NorecurError("not a folder: sync indexes a folder of postmortems", path=str(root))
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    run = _Run(store, folder, moment, max_bytes, max(1, batch_size), progress)
    with store.sync_lock(), _fewer_gc_passes():
        return run.execute(git_history, max(1, workers))


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic GC less often: reading a file makes thousands of short-lived objects that
    reference counting frees, and the default thresholds would collect hundreds of times per
    file for nothing (as in lint)."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


# -- what is stored, as sync keeps it in memory ---------------------------------------------------


class _Incident:
    __slots__ = ("key", "pk", "pm", "source")

    def __init__(self, pk: int | None, key: str, source: str) -> None:
        self.pk = pk
        self.key = key
        self.source = source
        self.pm: _Postmortem | None = None


class _Postmortem:
    __slots__ = ("incident", "path", "pk")

    def __init__(self, pk: int | None, path: str | None, incident: _Incident) -> None:
        self.pk = pk
        self.path = path
        self.incident = incident


@dataclass(slots=True)
class _Source:
    content_hash: str
    size: int
    mtime_ns: int
    last_error: str | None


@dataclass(slots=True)
class _Write:
    """A postmortem row to write, with the file rows that go under it."""

    pm: _Postmortem
    rows: FileRows
    content_hash: str
    new: bool
    transitions: dict[str, list[tuple[str, datetime, str]]]
    """Per follow-up identity: (status, when, source) changes from git, oldest first."""


@dataclass
class _Batch:
    """Everything one transaction writes, in the order it is written."""

    new_teams: list[str] = field(default_factory=list)
    incident_inserts: list[tuple[_Incident, str | None, dict[str, Any]]] = field(
        default_factory=list
    )
    incident_updates: list[tuple[_Incident, str | None, dict[str, Any]]] = field(
        default_factory=list
    )
    pm_deletes: list[int] = field(default_factory=list)
    writes: list[_Write] = field(default_factory=list)
    sources: list[tuple[str, _Source | None, _Source]] = field(default_factory=list)
    source_deletes: list[str] = field(default_factory=list)
    orphans: list[_Incident] = field(default_factory=list)


_Tracked = tuple[int | None, int | None, _Write, str, dict[str, Any]]


class _Run:
    def __init__(
        self,
        store: Store,
        root: Path,
        now: datetime,
        max_bytes: int,
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.store = store
        self.root = root
        self.now = now
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.progress = progress
        self.report = SyncReport(root=str(root))
        self.sources: dict[str, _Source] = {}
        self.incidents: dict[str, _Incident] = {}
        self.pm_by_path: dict[str, _Postmortem] = {}
        self.teams: dict[str, int] = {}
        self.claimed: dict[str, str] = {}
        """Incident id -> the path that holds it in this run."""
        self.fast: set[str] = set()
        self.demoted: set[str] = set()
        self.touched = 0
        self.git: GitHistory | None = None
        self.versions: dict[str, list[Version]] = {}

    # -- the run ------------------------------------------------------------------------------

    def execute(self, git_history: bool, jobs: int) -> SyncReport:
        found, problems = find_postmortems(self.root)
        self._load()
        present = {file.path for file in found} | {path for path, _problem in problems}
        for path, problem in problems:
            self.report.errors.append(SyncFileError(path, problem))
        for path, pm in self.pm_by_path.items():
            if path in present:
                self.claimed[pm.incident.key] = path
        work: list[FoundFile] = []
        for file in found:
            known = self.sources.get(file.path)
            if (
                known is not None
                and known.last_error is None
                and known.size == file.size
                and known.mtime_ns == file.mtime_ns
                and file.path in self.pm_by_path
            ):
                self.fast.add(file.path)
            else:
                work.append(file)
        gone = sorted((self.sources.keys() | self.pm_by_path.keys()) - present)
        if git_history and work:
            self.git = GitHistory.open(self.root)
        self.report.git_history = self.git is not None
        total, done = len(work) + len(gone), 0
        try:
            if self.git is not None:
                self.versions = self.git.versions([file.path for file in work])
            with _workers(jobs if len(work) >= PARALLEL_THRESHOLD else 1) as pool:
                chunks = list(_chunks(work, self.batch_size))
                # Workers read the next batch while this one is written.
                pending = self._submit(pool, chunks[0]) if chunks else None
                for number, chunk in enumerate(chunks):
                    assert pending is not None
                    prepared = list(pending)
                    if number + 1 < len(chunks):
                        pending = self._submit(pool, chunks[number + 1])
                    self._sync_batch(prepared)
                    done += len(chunk)
                    if self.progress:
                        self.progress(done, total)
            for paths in _chunks(gone, self.batch_size):
                self._delete_batch(paths)
                done += len(paths)
                if self.progress:
                    self.progress(done, total)
        finally:
            if self.git is not None:
                self.git.close()
        self.report.unchanged = len(self.fast) - len(self.demoted) + self.touched
        self.report.errors.sort(key=lambda error: error.path)
        return self.report

    def _load(self) -> None:
        with self.store.transaction() as connection:
            for path, content_hash, size, mtime_ns, last_error in connection.execute(
                select(
                    _sources.c.path,
                    _sources.c.content_hash,
                    _sources.c.size,
                    _sources.c.mtime_ns,
                    _sources.c.last_error,
                )
            ):
                self.sources[path] = _Source(content_hash, size, mtime_ns, last_error)
            query = select(
                _incidents.c.id,
                _incidents.c.incident_id,
                _incidents.c.source,
                _postmortems.c.id,
                _postmortems.c.path,
            ).outerjoin(_postmortems, _postmortems.c.incident_fk == _incidents.c.id)
            for pk, key, source, pm_pk, path in connection.execute(query):
                incident = _Incident(pk, key, source)
                self.incidents[key] = incident
                if pm_pk is not None:
                    incident.pm = _Postmortem(pm_pk, path, incident)
                    if path is not None:
                        self.pm_by_path[path] = incident.pm
            self.teams = dict(connection.execute(select(_teams.c.name, _teams.c.id)).all())

    def _task(self, file: FoundFile, *, touchable: bool = True) -> Task:
        known = self.sources.get(file.path)
        eligible = (
            touchable
            and known is not None
            and known.last_error is None
            and file.path in self.pm_by_path
        )
        return Task(
            str(self.root),
            file,
            known.content_hash if eligible and known is not None else None,
            self.max_bytes,
            self.git is not None and file.path in self.versions,
        )

    def _submit(self, pool: Executor | None, files: Sequence[FoundFile]) -> Iterable[Prepared]:
        tasks = [self._task(file) for file in files]
        if pool is None:
            return (prepare(task) for task in tasks)
        return pool.map(prepare, tasks, chunksize=16)

    # -- one batch of present files -----------------------------------------------------------

    def _sync_batch(self, prepared: Sequence[Prepared]) -> None:
        batch = _Batch()
        for item in prepared:
            self._decide(item, batch)
        with self.store.transaction(write=True) as connection:
            self._write(connection, batch)
        self._committed(batch)

    def _decide(self, item: Prepared, batch: _Batch) -> None:
        path = item.path
        own = self.pm_by_path.get(path)
        if item.touch and own is None:
            # Its row was taken over earlier in this run: read it whole after all.
            file = FoundFile(path, item.size, item.mtime_ns)
            item = prepare(self._task(file, touchable=False))
        if item.touch:
            # Same content, new mtime: only the bookkeeping changes.
            self._source(batch, item, None)
            self.touched += 1
            return
        if item.error is not None:
            self._fail(item, item.error, batch)
            return
        rows = item.rows
        assert rows is not None
        key = rows.incident_id
        holder = self.claimed.get(key)
        if holder is not None and holder != path:
            if holder < path:
                self._fail(item, _duplicate(path, key, holder, item.id_line), batch)
                return
            if holder in self.fast and holder not in self.demoted:
                # An unchanged file that sorts after this one loses the id to it.
                self.demoted.add(holder)
                error = _duplicate(holder, key, path, None)
                self.report.errors.append(error)
                previous = self.sources[holder]
                demoted = _Source(
                    previous.content_hash, previous.size, previous.mtime_ns, error.reason
                )
                batch.sources.append((holder, previous, demoted))
        if own is not None and self.claimed.get(own.incident.key) == path:
            del self.claimed[own.incident.key]
        self.claimed[key] = path

        incident = self.incidents.get(key)
        target = incident.pm if incident is not None else None
        if own is not None and target is not None and own is not target:
            # This file now holds an id that has its own postmortem row: that row (and its
            # history) is kept, this file's old row goes.
            self._unlink(own, batch)
            if own.pk is not None:
                batch.pm_deletes.append(own.pk)
        elif own is not None and target is None:
            target = own  # the file's id changed to one nobody holds: the row moves with it
        team = self._team(rows.team, batch)
        if incident is None:
            incident = _Incident(None, key, "file")
            self.incidents[key] = incident
            batch.incident_inserts.append((incident, team, rows.incident))
        else:
            batch.incident_updates.append((incident, team, rows.incident))
        new = target is None
        if target is None:
            target = _Postmortem(None, path, incident)
        else:
            if target.path is not None and self.pm_by_path.get(target.path) is target:
                del self.pm_by_path[target.path]
            if target.incident is not incident:
                self._detach(target, batch)
        target.path = path
        target.incident = incident
        incident.pm = target
        self.pm_by_path[path] = target
        transitions = self._transitions(item, rows)
        batch.writes.append(_Write(target, rows, item.content_hash, new, transitions))
        self._source(batch, item, None)
        (self.report.updated if own is not None else self.report.added).append(path)

    def _fail(self, item: Prepared, error: SyncFileError, batch: _Batch) -> None:
        self.report.errors.append(error)
        self._source(batch, item, error.reason)

    def _source(self, batch: _Batch, item: Prepared, last_error: str | None) -> None:
        known = self.sources.get(item.path)
        wanted = _Source(item.content_hash, item.size, item.mtime_ns, last_error)
        if known != wanted:
            batch.sources.append((item.path, known, wanted))

    def _unlink(self, pm: _Postmortem, batch: _Batch) -> None:
        if pm.path is not None and self.pm_by_path.get(pm.path) is pm:
            del self.pm_by_path[pm.path]
        self._detach(pm, batch)

    def _detach(self, pm: _Postmortem, batch: _Batch) -> None:
        if pm.incident.pm is pm:
            pm.incident.pm = None
            batch.orphans.append(pm.incident)

    def _team(self, name: str | None, batch: _Batch) -> str | None:
        if name is not None and name not in self.teams and name not in batch.new_teams:
            batch.new_teams.append(name)
        return name

    def _transitions(
        self, item: Prepared, rows: FileRows
    ) -> dict[str, list[tuple[str, datetime, str]]]:
        """Per follow-up identity, the status changes the file's git history evidences."""
        versions = self.versions.get(item.path)
        if not versions or self.git is None:
            return {}
        changes: dict[str, list[tuple[str, datetime, str]]] = {}
        last: dict[str, str] = {}
        for version in versions:
            if version.blob is None:
                continue  # deleted at this commit; statuses carry over if it comes back
            if version.blob == item.blob:
                statuses, zone = item.statuses, rows.zone
            else:
                blob = self.git.blob(version.blob)
                seen = parse_quietly(blob, item.path, self.max_bytes) if blob else None
                statuses = follow_up_statuses(seen) if seen is not None else None
                zone = seen.postmortem.incident.zone() if seen is not None else None
            if statuses is None:
                continue  # a version that does not parse tells nothing
            source = f"git:{version.commit}"
            for key, (status, closed) in statuses.items():
                previous = last.get(key)
                last[key] = status
                if previous == status:
                    continue
                entry = (status, version.committed, source)
                if previous is None and status in TERMINAL and closed is not None:
                    # First seen already closed: the commit only bounds when it closed, the
                    # closed date says when.
                    moment = midnight(closed, zone)
                    if moment <= version.committed:
                        entry = (status, moment, "file:closed")
                changes.setdefault(key, []).append(entry)
        return changes

    # -- writing ------------------------------------------------------------------------------

    def _write(self, connection: Connection, batch: _Batch) -> None:
        if batch.new_teams:
            pks = connection.execute(
                insert(_teams).returning(_teams.c.id, sort_by_parameter_order=True),
                [{"name": name} for name in batch.new_teams],
            ).scalars()
            self.teams.update(zip(batch.new_teams, pks, strict=True))
        if batch.incident_inserts:
            rows = [
                {
                    **values,
                    "incident_id": incident.key,
                    "team_id": self._team_pk(team),
                    "source": "file",
                }
                for incident, team, values in batch.incident_inserts
            ]
            pks = connection.execute(
                insert(_incidents).returning(_incidents.c.id, sort_by_parameter_order=True), rows
            ).scalars()
            for (incident, _team, _values), pk in zip(batch.incident_inserts, pks, strict=True):
                incident.pk = pk
        if batch.incident_updates:
            connection.execute(
                _update_by_pk(_incidents, ["team_id", *batch.incident_updates[0][2]]),
                [
                    {**values, "team_id": self._team_pk(team), "_pk": incident.pk}
                    for incident, team, values in batch.incident_updates
                ],
            )
        for pks in _chunks(batch.pm_deletes, _IN_CHUNK):
            connection.execute(delete(_postmortems).where(_postmortems.c.id.in_(pks)))
        updates = [write for write in batch.writes if not write.new]
        inserts = [write for write in batch.writes if write.new]
        if updates:
            connection.execute(
                _update_by_pk(_postmortems, _pm_columns(updates[0])),
                [{**self._pm_values(write), "_pk": write.pm.pk} for write in updates],
            )
        if inserts:
            pks = connection.execute(
                insert(_postmortems).returning(_postmortems.c.id, sort_by_parameter_order=True),
                [self._pm_values(write) for write in inserts],
            ).scalars()
            for write, pk in zip(inserts, pks, strict=True):
                write.pm.pk = pk
        if batch.writes:
            self._write_parts(connection, batch.writes)
        self._write_sources(connection, batch)
        orphans = [
            incident.pk
            for incident in batch.orphans
            if incident.pm is None and incident.source == "file" and incident.pk is not None
        ]
        for pks in _chunks(sorted(set(orphans)), _IN_CHUNK):
            connection.execute(
                delete(_incidents).where(_incidents.c.id.in_(pks), _incidents.c.source == "file")
            )

    def _team_pk(self, name: str | None) -> int | None:
        return None if name is None else self.teams[name]

    def _pm_values(self, write: _Write) -> dict[str, Any]:
        return {
            **write.rows.postmortem,
            "incident_fk": write.pm.incident.pk,
            "path": write.pm.path,
            "content_hash": write.content_hash,
            "indexed_at": self.now,
        }

    def _write_parts(self, connection: Connection, writes: list[_Write]) -> None:
        existing = [write.pm.pk for write in writes if not write.new]
        old_follow_ups = _children(connection, _follow_ups, FOLLOW_UP_COLUMNS, existing)
        old_contributing = _children(connection, _contributing, CONTRIBUTING_COLUMNS, existing)
        old_apparatus = _children(connection, _apparatus, APPARATUS_COLUMNS, existing)

        contributing = _PositionDiff(_contributing, CONTRIBUTING_COLUMNS)
        apparatus = _PositionDiff(_apparatus, APPARATUS_COLUMNS)
        fu_deletes: list[int] = []
        fu_moves: list[int] = []
        fu_updates: list[dict[str, Any]] = []
        fu_inserts: list[dict[str, Any]] = []
        # Each follow-up written: its pk (or its index in fu_inserts), its file, identity, row.
        tracked: list[_Tracked] = []
        for write in writes:
            pk = write.pm.pk
            assert pk is not None
            contributing.diff(pk, old_contributing.get(pk, []), write.rows.contributing)
            apparatus.diff(pk, old_apparatus.get(pk, []), write.rows.apparatus)
            old = old_follow_ups.get(pk, [])
            old_by_key = dict(zip(match_keys([row["key"] for row in old]), old, strict=True))
            for key, row in zip(write.rows.follow_up_keys, write.rows.follow_ups, strict=True):
                previous = old_by_key.pop(key, None)
                if previous is None:
                    tracked.append((None, len(fu_inserts), write, key, row))
                    fu_inserts.append({**row, "postmortem_fk": pk})
                    continue
                tracked.append((previous["id"], None, write, key, row))
                if any(previous[column] != row[column] for column in FOLLOW_UP_COLUMNS):
                    if previous["position"] != row["position"]:
                        fu_moves.append(previous["id"])
                    fu_updates.append({**row, "_pk": previous["id"]})
            fu_deletes.extend(row["id"] for row in old_by_key.values())
        for pks in _chunks(fu_deletes, _IN_CHUNK):
            connection.execute(delete(_follow_ups).where(_follow_ups.c.id.in_(pks)))
        if fu_moves:
            # Out of the way first: (postmortem, position) is unique at every statement.
            connection.execute(
                update(_follow_ups)
                .where(_follow_ups.c.id == bindparam("_pk"))
                .values(position=-bindparam("_pk", type_=_follow_ups.c.id.type)),
                [{"_pk": pk} for pk in fu_moves],
            )
        if fu_updates:
            connection.execute(_update_by_pk(_follow_ups, FOLLOW_UP_COLUMNS), fu_updates)
        inserted: list[int] = []
        if fu_inserts:
            inserted = list(
                connection.execute(
                    insert(_follow_ups).returning(_follow_ups.c.id, sort_by_parameter_order=True),
                    fu_inserts,
                ).scalars()
            )
        contributing.apply(connection)
        apparatus.apply(connection)
        self._write_history(connection, tracked, inserted)

    def _write_history(
        self,
        connection: Connection,
        tracked: list[_Tracked],
        inserted: list[int],
    ) -> None:
        known = [pk for pk, _index, _write, _key, _row in tracked if pk is not None]
        last: dict[int, tuple[str, datetime]] = {}
        for pks in _chunks(known, _IN_CHUNK):
            query = (
                select(_history.c.follow_up_fk, _history.c.status, _history.c.changed_at)
                .where(_history.c.follow_up_fk.in_(pks))
                .order_by(_history.c.follow_up_fk, _history.c.changed_at, _history.c.id)
            )
            for fk, status, changed_at in connection.execute(query):
                last[fk] = (status, changed_at)
        entries: list[dict[str, Any]] = []
        for pk, index, write, key, row in tracked:
            fu_pk = pk if pk is not None else inserted[index or 0]
            previous = last.get(fu_pk)
            for status, when, source in self._changes(previous, row, write, key):
                entries.append(
                    {"follow_up_fk": fu_pk, "status": status, "changed_at": when, "source": source}
                )
        if entries:
            connection.execute(insert(_history), entries)
            self.report.history_added += len(entries)

    def _changes(
        self,
        previous: tuple[str, datetime] | None,
        row: dict[str, Any],
        write: _Write,
        key: str,
    ) -> Iterator[tuple[str, datetime, str]]:
        """The history entries to append for one follow-up (see the module documentation)."""
        status, when = previous if previous is not None else (None, None)
        for new_status, moment, source in write.transitions.get(key, ()):
            if new_status != status and (when is None or moment >= when):
                status, when = new_status, moment
                yield new_status, moment, source
        current = row["status"]
        if current is None or current == status:
            return
        if current in TERMINAL and row["closed"] is not None:
            closed = midnight(row["closed"], write.rows.zone)
            if when is None or closed >= when:
                yield current, closed, "file:closed"
                return
        yield current, self.now, "sync"

    def _write_sources(self, connection: Connection, batch: _Batch) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for path, known, wanted in batch.sources:
            values = {
                "content_hash": wanted.content_hash,
                "size": wanted.size,
                "mtime_ns": wanted.mtime_ns,
                "last_error": wanted.last_error,
                "synced_at": self.now,
            }
            if known is None:
                inserts.append({**values, "path": path})
            else:
                updates.append({**values, "_path": path})
        if inserts:
            connection.execute(insert(_sources), inserts)
        if updates:
            statement = (
                update(_sources)
                .where(_sources.c.path == bindparam("_path"))
                .values({name: bindparam(name) for name in updates[0] if name != "_path"})
            )
            connection.execute(statement, updates)
        for paths in _chunks(batch.source_deletes, _IN_CHUNK):
            connection.execute(delete(_sources).where(_sources.c.path.in_(paths)))

    def _committed(self, batch: _Batch) -> None:
        for path, _known, wanted in batch.sources:
            self.sources[path] = wanted
        for path in batch.source_deletes:
            self.sources.pop(path, None)
        for incident in batch.orphans:
            if (
                incident.pm is None
                and incident.source == "file"
                and self.incidents.get(incident.key) is incident
            ):
                del self.incidents[incident.key]

    # -- files that are gone ------------------------------------------------------------------

    def _delete_batch(self, paths: Sequence[str]) -> None:
        batch = _Batch()
        for path in paths:
            pm = self.pm_by_path.get(path)
            if pm is not None:
                self._unlink(pm, batch)
                if pm.pk is not None:
                    batch.pm_deletes.append(pm.pk)
            if path in self.sources:
                batch.source_deletes.append(path)
            self.report.deleted.append(path)
        with self.store.transaction(write=True) as connection:
            self._write(connection, batch)
        self._committed(batch)


def _duplicate(path: str, key: str, winner: str, line: int | None) -> SyncFileError:
    return SyncFileError(
        path,
        f"duplicate id {key!r}: {winner} declares it too and sorts first, so this file is not "
        "indexed",
        line,
        "id",
    )


def _pm_columns(write: _Write) -> list[str]:
    return [*write.rows.postmortem, "incident_fk", "path", "content_hash", "indexed_at"]


def _update_by_pk(table: Table, columns: Iterable[str]) -> Any:
    return (
        update(table)
        .where(table.c.id == bindparam("_pk"))
        .values({name: bindparam(name) for name in columns})
    )


def _children(
    connection: Connection, table: Table, columns: Sequence[str], pm_pks: Sequence[int | None]
) -> dict[int, list[dict[str, Any]]]:
    """The stored rows of ``table`` under each postmortem, by position."""
    found: dict[int, list[dict[str, Any]]] = {}
    wanted = [pk for pk in pm_pks if pk is not None]
    for pks in _chunks(wanted, _IN_CHUNK):
        query = (
            select(table.c.id, table.c.postmortem_fk, *(table.c[name] for name in columns))
            .where(table.c.postmortem_fk.in_(pks))
            .order_by(table.c.postmortem_fk, table.c.position)
        )
        for row in connection.execute(query).mappings():
            found.setdefault(row["postmortem_fk"], []).append(dict(row))
    return found


class _PositionDiff:
    """Rows matched by position: changed ones updated, missing ones inserted, extra deleted."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = columns
        self.deletes: list[int] = []
        self.updates: list[dict[str, Any]] = []
        self.inserts: list[dict[str, Any]] = []

    def diff(self, pm_pk: int, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
        for previous, row in itertools.zip_longest(old, new):
            if row is None:
                self.deletes.append(previous["id"])
            elif previous is None:
                self.inserts.append({**row, "postmortem_fk": pm_pk})
            elif any(previous[column] != row[column] for column in self.columns):
                self.updates.append({**row, "_pk": previous["id"]})

    def apply(self, connection: Connection) -> None:
        for pks in _chunks(self.deletes, _IN_CHUNK):
            connection.execute(delete(self.table).where(self.table.c.id.in_(pks)))
        if self.updates:
            connection.execute(_update_by_pk(self.table, self.columns), self.updates)
        if self.inserts:
            connection.execute(insert(self.table), self.inserts)


@contextmanager
def _workers(jobs: int) -> Iterator[Executor | None]:
    """A pool of ``jobs`` parsing processes, or None for one process.

    On Linux the workers are forked, as lint's are: they inherit this process's pooled database
    connections but never use them, and a pool worker ends with ``os._exit``, so no inherited
    connection is closed or finalised in a child (which SQLite forbids). Elsewhere Python's
    default start method is used.
    """
    if jobs <= 1:
        yield None
        return
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=init_worker) as pool:
        yield pool


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
