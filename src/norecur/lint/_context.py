"""What a rule sees: the parsed file, its model, the configuration and the calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from norecur.config import Config
from norecur.document import FieldPath, ParsedPostmortem
from norecur.model import BusinessCalendar, Postmortem

__all__ = ["LintContext", "Violation"]

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule's raw result: a message and a place (a line, a front-matter field, or neither)."""

    message: str
    line: int | None = None
    field: FieldPath | None = None
    column: int = 1
    suggestion: str | None = None


@dataclass
class LintContext:
    """Everything a rule may read. Rules never do I/O; the engine builds this once per file."""

    parsed: ParsedPostmortem
    config: Config
    today: date
    calendar: BusinessCalendar = field(repr=False, default_factory=BusinessCalendar)
    _prose_lines: dict[str, list[tuple[int, str]]] = field(default_factory=dict, repr=False)

    @property
    def pm(self) -> Postmortem:
        """The postmortem model (fields with contract issues are left out)."""
        return self.parsed.postmortem

    def line_of(self, path: FieldPath) -> int:
        """1-based line of a front-matter field, or of its nearest present ancestor."""
        return self.parsed.line_of(path)

    def part_line(self, part_key: str) -> int:
        """Line of a part's heading, else of its front-matter field, else line 1."""
        section = self.parsed.section(part_key)
        if section is not None:
            return section.line
        if part_key in self.parsed.front_matter.data:
            return self.line_of((part_key,))
        return 1

    def field_or_part_line(self, path: FieldPath, part_key: str) -> int:
        """Line of ``path`` when its top-level key is written, else of the part's heading."""
        if path[0] in self.parsed.front_matter.data:
            return self.line_of(path)
        return self.part_line(part_key)

    def prose_lines(self, part_key: str) -> list[tuple[int, str]]:
        """``(file line, text)`` of a part's non-blank prose lines, HTML comments blanked out."""
        cached = self._prose_lines.get(part_key)
        if cached is None:
            cached = []
            section = self.parsed.section(part_key)
            if section is not None and section.body:
                body = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), section.body)
                cached = [
                    (section.line + offset, text)
                    for offset, text in enumerate(body.split("\n"), start=1)
                    if text.strip()
                ]
            self._prose_lines[part_key] = cached
        return cached

    @cached_property
    def prose_text(self) -> dict[str, str]:
        """Each part's prose with HTML comments removed and stripped, by part key."""
        out: dict[str, str] = {}
        for section in self.parsed.sections:
            if section.part is not None and section.part.key not in out:
                out[section.part.key] = _COMMENT.sub("", section.body).strip()
        return out
