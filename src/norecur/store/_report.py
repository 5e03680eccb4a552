"""What a sync reports: the files it added, updated and deleted, and the ones it could not index."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from norecur.errors import escape_controls

__all__ = ["SyncFileError", "SyncReport"]


@dataclass(frozen=True, slots=True)
class SyncFileError:
    """A file sync could not index, and why (``path`` is relative to the synced root)."""

    path: str
    message: str
    line: int | None = None
    field: str | None = None

    @property
    def reason(self) -> str:
        """``field: message``: what ``source_files.last_error`` records."""
        return f"{self.field}: {self.message}" if self.field else self.message

    def one_line(self, root: Path | str | None = None) -> str:
        """``path:line: error: field: message``, the path joined to ``root`` when given."""
        path = str(Path(root) / self.path) if root is not None else self.path
        where = path + (f":{self.line}" if self.line is not None else "")
        return escape_controls(f"{where}: error: {self.reason}")

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data."""
        return {"path": self.path, "line": self.line, "field": self.field, "message": self.message}


@dataclass
class SyncReport:
    """What a sync did. Paths are relative to ``root``."""

    root: str
    added: list[str] = field(default_factory=list)
    """Files indexed that had nothing indexed at their path before."""
    updated: list[str] = field(default_factory=list)
    """Files whose indexed content changed."""
    deleted: list[str] = field(default_factory=list)
    """Files gone since the last sync."""
    unchanged: int = 0
    errors: list[SyncFileError] = field(default_factory=list)
    """Files that could not be indexed (their previous version, if any, stays indexed)."""
    history_added: int = 0
    """Follow-up status changes recorded."""
    git_history: bool = False
    """Whether the git history of the changed files was read."""

    @property
    def exit_code(self) -> int:
        """1 when some file failed, else 0."""
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: counts, then the paths, then the errors."""
        return {
            "root": self.root,
            "added": len(self.added),
            "updated": len(self.updated),
            "deleted": len(self.deleted),
            "unchanged": self.unchanged,
            "errors": len(self.errors),
            "history_added": self.history_added,
            "git_history": self.git_history,
            "files": {"added": self.added, "updated": self.updated, "deleted": self.deleted},
            "error_details": [error.to_dict() for error in self.errors],
        }
