"""Reporters: one lint result, four formats (text, json, sarif, github)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar
from urllib.parse import quote

from norecur import __version__
from norecur.errors import escape_controls
from norecur.lint._engine import LintResult
from norecur.lint._finding import DOCS_URL, Finding, Severity
from norecur.lint._rule import RuleRegistry

__all__ = [
    "REPORTERS",
    "GithubReporter",
    "JsonReporter",
    "Reporter",
    "SarifReporter",
    "TextReporter",
]


class Reporter(ABC):
    """Turns a :class:`LintResult` into text. Subclasses implement ``_render``."""

    name: ClassVar[str]

    def report(self, result: LintResult, registry: RuleRegistry) -> str:
        """The whole report, ending with a newline when not empty."""
        text = self._render(result, registry)
        return text if not text or text.endswith("\n") else text + "\n"

    @abstractmethod
    def _render(self, result: LintResult, registry: RuleRegistry) -> str:
        """Render ``result``."""


class TextReporter(Reporter):
    """``path:line:col: CODE message [name]``, then a summary line; errors as ``error:`` lines."""

    name = "text"

    def _render(self, result: LintResult, registry: RuleRegistry) -> str:
        lines = [
            f"{_one_line(f.path)}:{f.line}:{f.column}: {f.code} {_one_line(f.message)} [{f.name}]"
            + (f"\n    suggestion: {_one_line(f.suggestion)}" if f.suggestion else "")
            for f in result.findings
        ]
        lines.extend(error.one_line() for error in result.errors)
        files = f"{result.files} file{'s' if result.files != 1 else ''}"
        if result.findings or result.errors:
            lines.append(
                f"Found {len(result.findings)} finding{'s' if len(result.findings) != 1 else ''}"
                f" and {len(result.errors)} error{'s' if len(result.errors) != 1 else ''}"
                f" in {files}."
            )
        else:
            lines.append(f"All checks passed ({files}).")
        return "\n".join(lines)


class JsonReporter(Reporter):
    """A JSON object: ``findings`` (code, name, message, severity, location, url, suggestion),
    ``errors`` and ``summary``."""

    name = "json"

    def _render(self, result: LintResult, registry: RuleRegistry) -> str:
        payload = {
            "version": __version__,
            "findings": [_finding_json(f) for f in result.findings],
            "errors": [
                {"path": e.path, "line": e.line, "field": e.field, "message": e.message}
                for e in result.errors
            ],
            "summary": {
                "files": result.files,
                "findings": len(result.findings),
                "errors": len(result.errors),
                "exit_code": result.exit_code,
            },
        }
        return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False)


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "severity": finding.severity.value,
        "location": {"path": finding.path, "line": finding.line, "column": finding.column},
        "url": finding.url,
        "suggestion": finding.suggestion,
    }


class SarifReporter(Reporter):
    """SARIF 2.1.0, for GitHub code scanning and other SARIF consumers."""

    name = "sarif"

    def _render(self, result: LintResult, registry: RuleRegistry) -> str:
        rules = list(registry)
        index = {rule.code: position for position, rule in enumerate(rules)}
        results: list[dict[str, Any]] = []
        for finding in result.findings:
            entry: dict[str, Any] = {
                "ruleId": finding.code,
                "level": "warning" if finding.severity is Severity.WARNING else "error",
                "message": {"text": finding.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(finding.path)},
                            "region": {"startLine": finding.line, "startColumn": finding.column},
                        }
                    }
                ],
            }
            if finding.code in index:
                entry["ruleIndex"] = index[finding.code]
            results.append(entry)
        notifications = [
            {
                "level": "error",
                "message": {"text": error.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(error.path)},
                            **({"region": {"startLine": error.line}} if error.line else {}),
                        }
                    }
                ],
            }
            for error in result.errors
        ]
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "norecur",
                    "version": __version__,
                    "informationUri": "https://norecur.dev",
                    "rules": [
                        {
                            "id": rule.code,
                            "name": rule.name,
                            "shortDescription": {"text": rule.summary()},
                            "helpUri": DOCS_URL.format(code=rule.code),
                            "defaultConfiguration": {
                                "level": "warning" if rule.severity is Severity.WARNING else "error"
                            },
                        }
                        for rule in rules
                    ],
                }
            },
            "results": results,
            "invocations": [
                {
                    "executionSuccessful": not result.errors,
                    "toolExecutionNotifications": notifications,
                }
            ],
        }
        log = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [run],
        }
        return json.dumps(log, indent=2, ensure_ascii=False)


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/").removeprefix("./"))


class GithubReporter(Reporter):
    """GitHub Actions workflow commands: ``::error file=…,line=…,title=CODE::message``."""

    name = "github"

    def _render(self, result: LintResult, registry: RuleRegistry) -> str:
        lines = []
        for f in result.findings:
            level = "warning" if f.severity is Severity.WARNING else "error"
            lines.append(
                f"::{level} file={_property(f.path)},line={f.line},col={f.column},"
                f"title={_property(f'{f.code} {f.name}')}::{_data(f.message)}"
            )
        for e in result.errors:
            line = f",line={e.line}" if e.line else ""
            lines.append(f"::error file={_property(e.path)}{line},title=error::{_data(e.message)}")
        return "\n".join(lines)


def _data(text: str) -> str:
    # Escapes from the GitHub Actions toolkit (command.ts escapeData / escapeProperty).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _one_line(text: str) -> str:
    return escape_controls(text)


REPORTERS: dict[str, type[Reporter]] = {
    reporter.name: reporter
    for reporter in (TextReporter, JsonReporter, SarifReporter, GithubReporter)
}
