"""The postmortem linter: a registry of small rules, an engine, and reporters."""

from norecur.lint._context import LintContext, Violation
from norecur.lint._engine import FileResult, Linter, LintResult, discover
from norecur.lint._finding import DOCS_URL, Finding, LintError, Severity
from norecur.lint._rule import (
    DOC_SECTIONS,
    ENTRY_POINT_GROUP,
    ProjectRule,
    Rule,
    RuleRegistry,
    default_registry,
    doc_sections,
)
from norecur.lint.reporters import REPORTERS, Reporter

__all__ = [
    "DOCS_URL",
    "DOC_SECTIONS",
    "ENTRY_POINT_GROUP",
    "REPORTERS",
    "FileResult",
    "Finding",
    "LintContext",
    "LintError",
    "LintResult",
    "Linter",
    "ProjectRule",
    "Reporter",
    "Rule",
    "RuleRegistry",
    "Severity",
    "Violation",
    "default_registry",
    "discover",
    "doc_sections",
]
