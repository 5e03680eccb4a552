"""Suppression comments: ``norecur: ignore PM508, PM702 -- reason``.

In front matter the comment is a YAML comment (``# norecur: ignore ...``); in prose an HTML
comment (``<!-- norecur: ignore ... -->``). A comment that shares its line with content covers
that line; a comment alone on its line covers the next non-blank line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Suppression", "find_suppressions"]

_MARK = re.compile(
    r"(?:#|<!--)\s*norecur:\s*ignore\s+(?P<codes>PM\d{3}(?:\s*,\s*PM\d{3})*)"
    r"(?:\s+--(?!>)\s*(?P<reason>.*?))?\s*(?:-->)?\s*$"
)
_COMMENT_ONLY = re.compile(r"^\s*(?:#.*|<!--.*-->)\s*$")


@dataclass
class Suppression:
    """One suppression comment."""

    line: int
    """1-based line of the comment."""
    target: int
    """1-based line whose findings it covers."""
    codes: tuple[str, ...]
    reason: str
    used: set[str] = field(default_factory=set)


def find_suppressions(text: str) -> list[Suppression]:
    """Every suppression comment in ``text``, in file order."""
    if "norecur:" not in text:
        return []
    lines = text.split("\n")
    found: list[Suppression] = []
    for index, line in enumerate(lines):
        if "norecur:" not in line:
            continue
        match = _MARK.search(line)
        if match is None:
            continue
        target = index
        if _COMMENT_ONLY.match(line):
            target = index + 1
            while target < len(lines) and not lines[target].strip():
                target += 1
        codes = tuple(code.strip() for code in match.group("codes").split(","))
        found.append(
            Suppression(index + 1, target + 1, codes, (match.group("reason") or "").strip())
        )
    return found
