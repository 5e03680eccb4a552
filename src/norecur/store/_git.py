"""The git history of postmortem files: which blob each commit gave a file, and when.

Two git processes serve a whole sync, however many files and commits: one ``git log`` over the
root (first-parent history, so a merge counts when it lands, with raw blob ids per change) and
one ``git cat-file --batch`` that hands back the blobs of the versions that must be read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

__all__ = ["GitHistory", "Version", "blob_id"]

PATHSPEC_LIMIT = 200
"""Up to this many changed files are named to ``git log``; beyond it, it walks the whole root."""
_HEADER = "\x01"


@dataclass(frozen=True, slots=True)
class Version:
    """One commit's version of a file: ``blob`` is None when the commit deleted it."""

    commit: str
    committed: datetime
    blob: str | None


def blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob (to recognise the committed working-tree version)."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GIT_LITERAL_PATHSPECS": "1",
            "GIT_NO_LAZY_FETCH": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "LC_ALL": "C",
        }
    )
    return env


class GitHistory:
    """The history of the files under ``root``, when ``root`` is inside a git work tree."""

    def __init__(self, root: Path, git: str) -> None:
        self.root = root
        self._git = git
        self._env = _environment()
        self._cat: subprocess.Popen[bytes] | None = None

    @classmethod
    def open(cls, root: Path) -> GitHistory | None:
        """The history of ``root``, or None when git is missing or ``root`` is not in a work
        tree (or git refuses it, as for a repository another user owns)."""
        git = shutil.which("git")
        if git is None:
            return None
        try:
            done = subprocess.run(
                [git, "rev-parse", "--is-inside-work-tree"],
                cwd=root,
                env=_environment(),
                capture_output=True,
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0 or done.stdout.strip() != b"true":
            return None
        return cls(root, git)

    def versions(self, paths: Collection[str]) -> dict[str, list[Version]]:
        """Each of ``paths`` (relative to the root) with its committed versions, oldest first.
        Paths git never saw are absent."""
        if not paths:
            return {}
        wanted = set(paths)
        pathspec = sorted(wanted) if len(wanted) <= PATHSPEC_LIMIT else ["."]
        command = [
            self._git,
            "-c",
            "log.showSignature=false",
            "log",
            "--first-parent",
            "-m",
            "--no-renames",
            "--raw",
            "--no-abbrev",
            "-z",
            "--reverse",
            "--relative",
            "--no-color",
            f"--format={_HEADER}%H %ct",
            "--",
            *pathspec,
        ]
        result: dict[str, list[Version]] = {}
        with subprocess.Popen(
            command,
            cwd=self.root,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as process:
            assert process.stdout is not None
            commit, committed = "", datetime.min.replace(tzinfo=UTC)
            record: str | None = None
            for token in _tokens(process.stdout):
                text = token.lstrip("\n")
                if record is not None:
                    # `text` is the path of the raw record before it.
                    if text in wanted:
                        fields = record.split(" ")
                        blob = None if fields[4] == "D" else fields[3]
                        result.setdefault(text, []).append(Version(commit, committed, blob))
                    record = None
                elif text.startswith(_HEADER):
                    sha, seconds = text[1:].split(" ")
                    commit, committed = sha, datetime.fromtimestamp(int(seconds), UTC)
                elif text.startswith(":"):
                    record = text
        if process.returncode != 0:
            return {}  # e.g. a repository without commits yet
        return result

    def blob(self, oid: str) -> bytes | None:
        """The content of blob ``oid``, or None when the repository does not have it (or git
        stopped answering: the history is then read as far as it could be)."""
        try:
            cat = self._cat_file()
            assert cat.stdin is not None
            assert cat.stdout is not None
            cat.stdin.write(oid.encode("ascii") + b"\n")
            cat.stdin.flush()
            header = cat.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                return None
            size = int(header[2])
            data = cat.stdout.read(size)
            cat.stdout.read(1)  # the newline after the content
        except (OSError, ValueError):
            return None
        return data if len(data) == size else None

    def _cat_file(self) -> subprocess.Popen[bytes]:
        if self._cat is None:
            self._cat = subprocess.Popen(
                [self._git, "cat-file", "--batch"],
                cwd=self.root,
                env=self._env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._cat

    def close(self) -> None:
        """Stop the ``cat-file`` process, if one was started."""
        if self._cat is not None:
            assert self._cat.stdin is not None
            self._cat.stdin.close()
            self._cat.wait()
            if self._cat.stdout is not None:
                self._cat.stdout.close()
            self._cat = None


def _tokens(stream: IO[bytes]) -> Iterator[str]:
    """The NUL-separated tokens of ``stream`` (paths that are not UTF-8 never match a file)."""
    rest = b""
    while chunk := stream.read(1 << 16):
        parts = (rest + chunk).split(b"\x00")
        rest = parts.pop()
        for part in parts:
            yield part.decode("utf-8", "surrogateescape")
    if rest:
        yield rest.decode("utf-8", "surrogateescape")
