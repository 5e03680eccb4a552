"""What the linter reports: findings (contract breaches) and errors (unreadable files)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from norecur.errors import escape_controls

__all__ = ["DOCS_URL", "Finding", "LintError", "Severity"]

DOCS_URL = "https://norecur.dev/rules/{code}"
"""Where a rule's documentation lives (the same text as ``norecur rule CODE``)."""


class Severity(StrEnum):
    """How a finding is shown; any finding makes ``norecur lint`` exit 1."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One breach of the contract at one place. Sorted by path, line, column, code."""

    path: str
    line: int
    column: int
    code: str
    name: str
    message: str
    severity: Severity = Severity.ERROR
    suggestion: str | None = None
    """A rewrite pattern or a value to use instead, when the rule knows one."""

    @property
    def url(self) -> str:
        """The rule's documentation link."""
        return DOCS_URL.format(code=self.code)


@dataclass(frozen=True, slots=True, order=True)
class LintError:
    """A file that could not be linted at all (exit code 2), with where it went wrong."""

    path: str
    line: int | None
    message: str
    field: str | None = None

    def one_line(self) -> str:
        """``path:line: error: field: message`` on one line."""
        where = self.path + (f":{self.line}" if self.line is not None else "")
        field = f"{self.field}: " if self.field else ""
        return escape_controls(f"{where}: error: {field}{self.message}")
