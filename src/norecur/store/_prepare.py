"""Reading one file for sync: bytes, hash, parse, rows. Runs in worker processes when there are
many files, so it touches no database and returns plain, picklable data."""

from __future__ import annotations

import gc
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import date

from norecur.document import ParsedPostmortem, parse_postmortem
from norecur.errors import DocumentError
from norecur.store._discover import FoundFile
from norecur.store._git import blob_id
from norecur.store._report import SyncFileError
from norecur.store._rows import FileRows, Refused, file_rows, follow_up_statuses

__all__ = ["Prepared", "Task", "init_worker", "parse_quietly", "prepare"]

Statuses = dict[str, tuple[str, date | None]]


@dataclass(frozen=True, slots=True)
class Task:
    """A file to prepare; ``known_hash`` is the hash whose content needs no parsing."""

    root: str
    file: FoundFile
    known_hash: str | None
    max_bytes: int
    want_blob: bool


@dataclass(frozen=True, slots=True)
class Prepared:
    """A file read: ``touch`` when its hash is the known one (not parsed), else its rows or the
    error that stops it. ``size`` and ``mtime_ns`` are those of the content that was read."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    touch: bool = False
    rows: FileRows | None = None
    error: SyncFileError | None = None
    id_line: int | None = None
    statuses: Statuses | None = None
    """The follow-ups' statuses and closed dates (for reading the git history)."""
    blob: str | None = None
    """The content's git blob id, when asked for."""


def init_worker() -> None:
    """Set up a parsing worker: no cyclic GC (it parses and exits, as lint's workers do), and a
    watch on its parent. A worker blocks reading tasks from a pipe whose write end it inherited
    too, so it would never see the pipe close if the sync were killed: it exits by itself as
    soon as its parent is gone."""
    gc.disable()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="norecur-parent-watch", daemon=True).start()


def prepare(task: Task) -> Prepared:
    """Read, hash and (unless the hash is ``known_hash``) parse one file."""
    file = task.file
    path = file.path
    try:
        with open(os.path.join(task.root, path), "rb") as handle:
            stat = os.fstat(handle.fileno())
            if stat.st_size > task.max_bytes:
                error = SyncFileError(
                    path,
                    f"file is {stat.st_size / 1_048_576:.1f} MiB, over the "
                    f"{task.max_bytes / 1_048_576:.1f} MiB limit for a postmortem (max_file_bytes)",
                    1,
                )
                return Prepared(path, stat.st_size, stat.st_mtime_ns, "", error=error)
            data = handle.read()
    except OSError as exc:
        error = SyncFileError(path, f"cannot read file: {exc.strerror or exc}")
        return Prepared(path, file.size, file.mtime_ns, "", error=error)
    size, mtime_ns = stat.st_size, stat.st_mtime_ns
    content_hash = hashlib.sha256(data).hexdigest()
    if content_hash == task.known_hash:
        return Prepared(path, size, mtime_ns, content_hash, touch=True)
    try:
        parsed = parse_postmortem(data, path, max_bytes=task.max_bytes)
        rows = file_rows(parsed)
    except (DocumentError, Refused) as exc:
        error = SyncFileError(path, exc.message, exc.line, exc.field)
        return Prepared(path, size, mtime_ns, content_hash, error=error)
    return Prepared(
        path,
        size,
        mtime_ns,
        content_hash,
        rows=rows,
        id_line=parsed.line_of(("id",)),
        statuses=follow_up_statuses(parsed),
        blob=blob_id(data) if task.want_blob else None,
    )


def parse_quietly(data: bytes, path: str, max_bytes: int) -> ParsedPostmortem | None:
    """``data`` parsed, or None when it does not parse (an old version in git history)."""
    try:
        return parse_postmortem(data, path, max_bytes=max_bytes)
    except DocumentError:
        return None
