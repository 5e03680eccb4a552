"""Pure helpers for the Markdown prose of a part: what counts as a heading, and normalisation.

A part's prose is Markdown that may use any construct except H1/H2 ATX headings, which belong to
the document's structure. Code fences are honoured, so ``## not a heading`` inside a fence is prose.
"""

from __future__ import annotations

import re

__all__ = ["heading_lines", "heading_lines_of", "normalize_prose", "tidy_prose"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def heading_lines(text: str, *, max_level: int = 2) -> list[tuple[int, int, str]]:
    """ATX headings up to ``max_level`` outside code fences, as ``(line_index, level, title)``.

    ``line_index`` is 0-based. Only ATX headings are structure; a setext underline is prose.
    """
    return _scan(text, max_level)[0]


def heading_lines_of(lines: list[str], *, max_level: int = 2) -> list[tuple[int, int, str]]:
    """:func:`heading_lines` for text already split into lines."""
    return _scan_lines(lines, max_level)[0]


def _scan(text: str, max_level: int) -> tuple[list[tuple[int, int, str]], bool]:
    return _scan_lines(text.split("\n"), max_level)


def _scan_lines(lines: list[str], max_level: int) -> tuple[list[tuple[int, int, str]], bool]:
    """Headings outside fences, and whether a fence is still open at the end."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        head = line[:4]
        # Slicing first: a fence or heading starts within four characters, and most lines do not.
        fence_match = _FENCE.match(line) if ("`" in head or "~" in head) else None
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif (
                marker[0] == fence[0]
                and len(marker) >= len(fence)
                and not line.strip(marker[0] + " \t")
            ):
                fence = None
            continue
        if fence is not None or "#" not in head:
            continue
        match = _ATX.match(line)
        if match and len(match.group(1)) <= max_level:
            found.append((index, len(match.group(1)), (match.group(2) or "").strip()))
    return found, fence is not None


def tidy_prose(text: str) -> str:
    """Line endings to ``\\n``, trailing white space off each line, outer blank lines off."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def normalize_prose(text: str) -> str:
    """:func:`tidy_prose`, refusing H1/H2 headings: inside a part they would start a new part
    when the file is read back."""
    if "\x00" in text:
        raise ValueError("prose may not contain NUL characters")
    normalized = tidy_prose(text)
    headings, fence_open = _scan(normalized, 2)
    if fence_open:
        raise ValueError(
            "prose ends inside a code fence; close it, or the next part's heading would be read "
            "as code"
        )
    if headings:
        _index, level, title = headings[0]
        raise ValueError(
            f"prose may not contain a level-{level} heading ({'#' * level} {title}); "
            "use ### or deeper inside a part"
        )
    return normalized
