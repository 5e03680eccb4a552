"""The engine: finds files, runs the selected rules, isolates crashes, applies suppressions.

Rules only see one parsed file; the engine owns everything around them, including the
cross-file rules (duplicate ids) that run once all files are read.
"""

from __future__ import annotations

import fnmatch
import gc
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from norecur.config import Config
from norecur.document import ParsedPostmortem, parse_postmortem, read_postmortem
from norecur.errors import DocumentError
from norecur.lint._context import LintContext
from norecur.lint._finding import Finding, LintError
from norecur.lint._rule import ProjectRule, Rule, RuleRegistry, default_registry
from norecur.lint._suppress import find_suppressions
from norecur.model import BusinessCalendar

__all__ = ["FileResult", "LintResult", "Linter", "discover"]

_SCHEMA_CODE = "PM104"
_CRASH_CODE = "PM000"
_NO_REASON_CODE = "PM001"
_UNUSED_CODE = "PM002"
_UNSUPPRESSIBLE = frozenset({_NO_REASON_CODE, _UNUSED_CODE})
DEFAULT_EXCLUDE = ("README.md", "CHANGELOG.md", "CONTRIBUTING.md", "_*", ".*", "node_modules")
PARALLEL_THRESHOLD = 200
"""Below this many files, starting worker processes costs more than it saves."""


@dataclass(frozen=True, slots=True)
class FileResult:
    """What linting one file gave: findings, or the error that stopped it."""

    path: str
    findings: tuple[Finding, ...] = ()
    error: LintError | None = None
    identifier: str | None = None
    identifier_line: int = 1


@dataclass
class LintResult:
    """The outcome of a run over many files."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[LintError] = field(default_factory=list)
    files: int = 0

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings, 2 errors (errors win)."""
        if self.errors:
            return 2
        return 1 if self.findings else 0


def discover(
    paths: Sequence[Path | str], exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> tuple[list[str], list[LintError]]:
    """Markdown files under ``paths``, sorted; files named explicitly are always included."""
    found: set[str] = set()
    errors: list[LintError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.add(str(path))
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not _excluded(d, exclude))
                for name in files:
                    if name.lower().endswith(".md") and not _excluded(name, exclude):
                        found.add(str(Path(root) / name))
        else:
            errors.append(LintError(str(path), None, "no such file or directory"))
    return sorted(found), errors


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


class Linter:
    """Lints postmortems against the selected rules of a registry under one configuration."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        registry: RuleRegistry | None = None,
        today: date | None = None,
    ) -> None:
        self.config = config or Config()
        self.registry = registry or default_registry()
        self.today = today or self.config.today or date.today()
        self.calendar = BusinessCalendar(
            self.config.holiday_country, self.config.holiday_subdivision
        )
        selected = self.registry.selected(self.config.select, self.config.ignore)
        self.rules: list[Rule] = [rule() for rule in selected if not issubclass(rule, ProjectRule)]
        self.project_rules: list[ProjectRule] = [
            rule()
            for rule in selected
            if issubclass(rule, ProjectRule)  # type: ignore[misc]
        ]
        self._selected_codes = {rule.code for rule in selected}

    # -- one file --------------------------------------------------------------------------

    def lint_file(self, path: Path | str) -> FileResult:
        """Lint one file; an unreadable file gives a :class:`FileResult` with ``error`` set."""
        try:
            parsed = read_postmortem(path, max_bytes=self.config.max_file_bytes)
        except DocumentError as exc:
            return FileResult(
                str(path), error=LintError(str(path), exc.line, exc.message, exc.field)
            )
        return self.lint_parsed(parsed)

    def lint_text(self, text: str | bytes, path: str = "<string>") -> FileResult:
        """Lint a postmortem held in memory."""
        try:
            parsed = parse_postmortem(text, path, max_bytes=self.config.max_file_bytes)
        except DocumentError as exc:
            return FileResult(path, error=LintError(path, exc.line, exc.message, exc.field))
        return self.lint_parsed(parsed)

    def lint_parsed(self, parsed: ParsedPostmortem) -> FileResult:
        """Run the rules on a parsed file, then route schema issues and apply suppressions."""
        ctx = LintContext(parsed, self.config, self.today, self.calendar)
        skip = self._ignored_for(parsed.path)
        findings: list[Finding] = []
        for rule in self.rules:
            if rule.code in skip:
                continue
            try:
                findings.extend(rule.check(ctx))
            except Exception as exc:  # crash isolation: a broken rule becomes a finding
                findings.append(self._crash(parsed, rule, exc))
        findings.extend(self._schema_findings(parsed, skip))
        findings = self._apply_suppressions(parsed, findings, skip)
        identifier = parsed.postmortem.id
        line = parsed.line_of(("id",)) if identifier else 1
        return FileResult(parsed.path, tuple(sorted(set(findings))), None, identifier, line)

    def _ignored_for(self, path: str) -> set[str]:
        if not self.config.per_file_ignores:
            return set()
        relative = _relative(path, self.config.root)
        codes: set[str] = set()
        for glob, selectors in self.config.per_file_ignores:
            if fnmatch.fnmatchcase(relative, glob):
                codes.update(rule.code for rule in self.registry.selected(selectors))
        return codes

    def _crash(self, parsed: ParsedPostmortem, rule: Rule, exc: Exception) -> Finding:
        crash = self.registry.get(_CRASH_CODE)
        return Finding(
            parsed.path,
            1,
            1,
            _CRASH_CODE,
            crash.name if crash else "rule-crashed",
            f"rule {rule.code} ({rule.name}) crashed: {type(exc).__name__}: {exc}",
        )

    def _schema_findings(self, parsed: ParsedPostmortem, skip: set[str]) -> Iterable[Finding]:
        for issue in parsed.issues:
            glob_path = ".".join(str(step) for step in issue.field)
            owner = next(
                (rule for rule in self.registry if rule.owns and rule.owns_field(glob_path)), None
            ) or self.registry.get(_SCHEMA_CODE)
            if owner is None or owner.code not in self._selected_codes or owner.code in skip:
                continue
            yield Finding(
                parsed.path,
                issue.line,
                1,
                owner.code,
                owner.name,
                f"{issue.dotted}: {issue.message}",
                owner.severity,
            )

    def _apply_suppressions(
        self, parsed: ParsedPostmortem, findings: list[Finding], skip: set[str]
    ) -> list[Finding]:
        suppressions = find_suppressions(parsed.text)
        if not suppressions:
            return findings
        kept: list[Finding] = []
        by_line: dict[int, list] = {}
        for suppression in suppressions:
            if suppression.reason:
                by_line.setdefault(suppression.target, []).append(suppression)
        for finding in findings:
            covering = [
                s
                for s in by_line.get(finding.line, ())
                if finding.code not in _UNSUPPRESSIBLE
                and finding.code in {self.registry.resolve(c) for c in s.codes}
            ]
            if covering:
                for suppression in covering:
                    suppression.used.add(finding.code)
            else:
                kept.append(finding)
        meta = {code: self.registry.get(code) for code in (_NO_REASON_CODE, _UNUSED_CODE)}
        for suppression in suppressions:
            if not suppression.reason:
                if _NO_REASON_CODE in self._selected_codes and _NO_REASON_CODE not in skip:
                    rule = meta[_NO_REASON_CODE]
                    kept.append(
                        Finding(
                            parsed.path,
                            suppression.line,
                            1,
                            _NO_REASON_CODE,
                            rule.name if rule else "suppression-without-reason",
                            f"suppression of {', '.join(suppression.codes)} gives no reason: "
                            "add '-- <reason>'; it suppresses nothing until then",
                            rule.severity if rule else Finding.severity,
                        )
                    )
                continue
            if _UNUSED_CODE not in self._selected_codes or _UNUSED_CODE in skip:
                continue
            for code in suppression.codes:
                current = self.registry.resolve(code)
                known = current in self.registry
                if known and (current not in self._selected_codes or current in skip):
                    continue  # a rule that did not run cannot have used it
                if current not in suppression.used:
                    rule = meta[_UNUSED_CODE]
                    what = (
                        "matches no finding on the line it covers"
                        if known
                        else "is not a rule code"
                    )
                    kept.append(
                        Finding(
                            parsed.path,
                            suppression.line,
                            1,
                            _UNUSED_CODE,
                            rule.name if rule else "unused-suppression",
                            f"suppression of {code} {what} (line {suppression.target})",
                            rule.severity if rule else Finding.severity,
                        )
                    )
        return kept

    # -- many files ------------------------------------------------------------------------

    def lint_paths(self, paths: Sequence[Path | str], *, jobs: int | None = None) -> LintResult:
        """Lint files and folders (recursively), in parallel when there are many files."""
        files, errors = discover(paths)
        jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        if jobs > 1 and len(files) >= PARALLEL_THRESHOLD:
            chunk = max(16, len(files) // (jobs * 8))
            with ProcessPoolExecutor(
                max_workers=jobs, initializer=_init_worker, initargs=(self.config, self.today)
            ) as pool:
                results = list(pool.map(_lint_in_worker, files, chunksize=chunk))
        else:
            with _fewer_gc_passes():
                results = [self.lint_file(path) for path in files]
        return self.collect(results, errors)

    def collect(
        self, results: Sequence[FileResult], errors: Sequence[LintError] = ()
    ) -> LintResult:
        """Merge per-file results, run the cross-file rules, and sort everything."""
        outcome = LintResult(files=len(results))
        outcome.errors.extend(errors)
        identities: list[tuple[str, str | None, int]] = []
        for result in results:
            outcome.findings.extend(result.findings)
            if result.error is not None:
                outcome.errors.append(result.error)
            else:
                identities.append((result.path, result.identifier, result.identifier_line))
        for rule in self.project_rules:
            for finding in rule.check_project(identities):
                if rule.code not in self._ignored_for(finding.path):
                    outcome.findings.append(finding)
        outcome.findings.sort()
        outcome.errors.sort(key=lambda e: (e.path, e.line or 0, e.message))
        return outcome


def _relative(path: str, root: Path | None) -> str:
    candidate = Path(path)
    if root is not None:
        try:
            return candidate.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return candidate.as_posix()


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic GC less often while linting many files.

    Reading one file makes thousands of short-lived objects that reference counting frees;
    the default thresholds then run the cyclic collector hundreds of times per file for nothing.
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


_WORKER: Linter | None = None


def _init_worker(config: Config, today: date) -> None:
    global _WORKER
    _WORKER = Linter(config, today=today)
    # A worker lives for one run and its garbage is acyclic: reference counting frees it, so
    # the cyclic collector only costs time here (see _fewer_gc_passes).
    gc.disable()


def _lint_in_worker(path: str) -> FileResult:
    assert _WORKER is not None
    return _WORKER.lint_file(path)
