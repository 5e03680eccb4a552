"""Finding the postmortem files under a root, with the size and mtime the fast path compares.

The same files ``norecur lint`` finds: ``*.md`` (any case) except README, CHANGELOG and
CONTRIBUTING, and nothing whose name starts with ``_`` or ``.``, nor anything in
``node_modules``. The store may not import the linter, so the few lines are repeated here.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_EXCLUDE", "FoundFile", "find_postmortems"]

DEFAULT_EXCLUDE: tuple[str, ...] = (
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "_*",
    ".*",
    "node_modules",
)


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A postmortem file: its path relative to the root (``/``-separated), size and mtime."""

    path: str
    size: int
    mtime_ns: int


def find_postmortems(
    root: Path, exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> tuple[list[FoundFile], list[tuple[str, str]]]:
    """Every postmortem file under ``root``, sorted by relative path, and the ``(path, problem)``
    pairs for entries that cannot be indexed (a name that is not UTF-8, a file that vanished)."""
    found: list[FoundFile] = []
    problems: list[tuple[str, str]] = []
    pending: list[tuple[str, str]] = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            problems.append((prefix.rstrip("/") or ".", f"cannot list folder: {exc.strerror}"))
            continue
        for entry in entries:
            name = entry.name
            if _excluded(name, exclude):
                continue
            relative = prefix + name
            try:
                is_dir = entry.is_dir()
                is_link = entry.is_symlink()
            except OSError:
                is_dir = is_link = False
            if is_dir:
                # Like os.walk (and so lint): a link to a folder is not followed.
                if not is_link:
                    pending.append((entry.path, relative + "/"))
                continue
            if not name.lower().endswith(".md"):
                continue
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                problems.append((_printable(relative), "file name is not UTF-8; rename the file"))
                continue
            try:
                stat = entry.stat()
            except OSError as exc:
                problems.append((relative, f"cannot read file: {exc.strerror}"))
                continue
            found.append(FoundFile(relative, stat.st_size, stat.st_mtime_ns))
    found.sort(key=lambda file: file.path)
    problems.sort()
    return found, problems


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
