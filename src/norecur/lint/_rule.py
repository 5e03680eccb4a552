"""The rule interface and the registry that guards rule codes.

A rule is a small class: a permanent ``code``, a ``name`` describing the pattern it flags, a
default ``severity``, and a docstring that is its user documentation with the sections of
:data:`DOC_SECTIONS`. It implements :meth:`Rule._check`, pure: a parsed document in, violations out.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import textwrap
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import ClassVar

from norecur.errors import PluginError
from norecur.lint._context import LintContext, Violation
from norecur.lint._finding import Finding, Severity

__all__ = [
    "DOC_SECTIONS",
    "ENTRY_POINT_GROUP",
    "ProjectRule",
    "Rule",
    "RuleRegistry",
    "default_registry",
    "doc_sections",
]

ENTRY_POINT_GROUP = "norecur.lint_rules"
DOC_SECTIONS = ("What it checks", "Why it matters", "Example", "Instead", "Options")
_CODE = re.compile(r"^PM\d{3}$")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SECTION = re.compile(r"^(" + "|".join(DOC_SECTIONS) + r"):\s*$", re.MULTILINE)


class Rule(ABC):
    """Base of every lint rule. Subclasses set the class attributes and implement ``_check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR
    reads: ClassVar[tuple[str, ...]] = ()
    """Top-level front-matter fields the rule reads; it is skipped while one has a contract issue
    (that issue is reported instead), so one mistake yields one finding."""
    owns: ClassVar[tuple[str, ...]] = ()
    """Field globs (``cause.primary``, ``follow_ups.*.status``) whose contract issues this rule
    reports, instead of the generic schema rule."""

    def check(self, ctx: LintContext) -> list[Finding]:
        """Run the rule on one file and place each violation at a line."""
        invalid = ctx.parsed.invalid_fields
        if invalid and not invalid.isdisjoint(self.reads):
            return []
        return [self.finding(ctx, violation) for violation in self._check(ctx)]

    def finding(self, ctx: LintContext, violation: Violation) -> Finding:
        """A :class:`Finding` for ``violation`` in the file of ``ctx``."""
        line = violation.line
        if line is None:
            line = ctx.line_of(violation.field) if violation.field is not None else 1
        return Finding(
            path=ctx.parsed.path,
            line=line,
            column=violation.column,
            code=self.code,
            name=self.name,
            message=violation.message,
            severity=self.severity,
            suggestion=violation.suggestion,
        )

    @abstractmethod
    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        """Yield a :class:`Violation` for each breach in ``ctx``. Pure: no I/O, no state."""

    @classmethod
    def summary(cls) -> str:
        """The docstring's first line."""
        return (cls.__doc__ or "").strip().split("\n", 1)[0]

    @classmethod
    def owns_field(cls, dotted_glob_path: str) -> bool:
        """True when a contract issue at ``dotted_glob_path`` (``follow_ups.2.status``) is ours."""
        return any(fnmatch.fnmatchcase(dotted_glob_path, pattern) for pattern in cls.owns)


class ProjectRule(Rule):
    """A rule over all files at once (e.g. duplicate ids); ``_check`` is unused."""

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        return ()

    @abstractmethod
    def check_project(self, files: Sequence[tuple[str, str | None, int]]) -> Iterator[Finding]:
        """Findings from ``(path, id, id line)`` of every linted file."""


def doc_sections(rule: type[Rule]) -> dict[str, str]:
    """The docstring split into its sections (``{"What it checks": "...", ...}``)."""
    doc = inspect.cleandoc(rule.__doc__ or "")
    parts = _SECTION.split(doc)
    sections: dict[str, str] = {}
    for index in range(1, len(parts) - 1, 2):
        sections[parts[index]] = _dedent(parts[index + 1]).strip("\n")
    return sections


def _dedent(text: str) -> str:
    return textwrap.dedent(text)


class RuleRegistry:
    """Rules by code. Refuses malformed or duplicate codes and names; keeps retired aliases."""

    def __init__(self) -> None:
        self._rules: dict[str, type[Rule]] = {}
        self._names: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        """Retired code -> the code that replaced it."""
        self.broken: list[PluginError] = []
        """Plugins that failed to load, reported by name and skipped."""

    def register(self, rule: type[Rule]) -> type[Rule]:
        """Add ``rule``; usable as a class decorator."""
        if not (isinstance(rule, type) and issubclass(rule, Rule)):
            raise ValueError(f"{rule!r} is not a subclass of norecur.lint.Rule")
        code, name = getattr(rule, "code", None), getattr(rule, "name", None)
        if not isinstance(code, str) or not _CODE.match(code):
            raise ValueError(f"{rule.__name__}: code {code!r} is not of the form PM123")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{rule.__name__}: name {name!r} must be lower-kebab-case")
        if code in self._rules or code in self.aliases:
            raise ValueError(f"{rule.__name__}: code {code} is already taken")
        if name in self._names:
            raise ValueError(
                f"{rule.__name__}: name {name!r} is already used by {self._names[name]}"
            )
        self._rules[code] = rule
        self._names[name] = code
        return rule

    def _unregister(self, rule: type[Rule]) -> None:
        self._rules.pop(rule.code, None)
        self._names.pop(rule.name, None)

    def alias(self, retired: str, current: str) -> None:
        """Keep ``retired`` working as a selector/suppression code for ``current``."""
        if not _CODE.match(retired) or retired in self._rules:
            raise ValueError(f"cannot retire {retired!r}: malformed or still in use")
        self.aliases[retired] = current

    def __iter__(self) -> Iterator[type[Rule]]:
        return iter(sorted(self._rules.values(), key=lambda rule: rule.code))

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, code: object) -> bool:
        return code in self._rules

    def get(self, code_or_name: str) -> type[Rule] | None:
        """A rule by code, retired code or name."""
        code = self.aliases.get(code_or_name, code_or_name)
        code = self._names.get(code, code)
        return self._rules.get(code.upper()) if code.upper().startswith("PM") else None

    def resolve(self, code: str) -> str:
        """The current code for a possibly retired one."""
        return self.aliases.get(code, code)

    def selected(self, select: Sequence[str], ignore: Sequence[str] = ()) -> list[type[Rule]]:
        """Rules matching any ``select`` selector and no ``ignore`` selector (prefix match)."""

        def matches(code: str, selectors: Sequence[str]) -> bool:
            return any(
                selector == "ALL" or code.startswith(self.resolve(selector))
                for selector in selectors
            )

        return [
            rule for rule in self if matches(rule.code, select) and not matches(rule.code, ignore)
        ]

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register every rule published under the entry-point ``group``.

        An entry point resolves to a sequence of rule classes. One that fails to import or
        register is recorded in :attr:`broken` and skipped; the others still load.
        """
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            added: list[type[Rule]] = []
            try:
                for rule in entry_point.load():
                    self.register(rule)
                    added.append(rule)
            except Exception as exc:  # a broken plugin must not take the linter down
                for rule in added:  # all of a plugin's rules, or none of them
                    self._unregister(rule)
                self.broken.append(
                    PluginError(f"lint rule plugin {entry_point.name!r} failed to load: {exc}")
                )


_DEFAULT: RuleRegistry | None = None


def default_registry() -> RuleRegistry:
    """The registry of built-in and plugin rules, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        registry = RuleRegistry()
        registry.load_entry_points()
        if "PM101" not in registry:
            # Running from a source tree without installed metadata: load the built-ins directly.
            from norecur.lint.rules import RULES

            for rule in RULES:
                if rule.code not in registry:
                    registry.register(rule)
        _DEFAULT = registry
    return _DEFAULT
