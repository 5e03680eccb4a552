"""Reading a postmortem file: bytes in, a :class:`ParsedPostmortem` (or a one-line error) out.

The file is Markdown: YAML front matter for the structured fields, then an optional ``# Title``,
then one ``## Heading`` per part, in the order of :data:`norecur.model.PARTS`.

Two kinds of problem are told apart. A file that cannot be *read* as a postmortem (binary,
not UTF-8, too large, empty, malformed YAML, a value of the wrong type) raises a
:class:`~norecur.errors.DocumentError` naming file, line and field. A file that reads but breaks
the contract (a value outside a vocabulary, an unknown key, a negative count) parses, with the
offending top-level field left out of the model and recorded in ``issues`` for the linter.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from norecur.document._frontmatter import FieldPath, FrontMatter, dotted, load_front_matter
from norecur.errors import DocumentError, FrontMatterError
from norecur.model import (
    Narrative,
    Part,
    Postmortem,
    heading_lines_of,
    part_for_heading,
    tidy_prose,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ParsedPostmortem",
    "SchemaIssue",
    "Section",
    "parse_postmortem",
    "read_postmortem",
]

DEFAULT_MAX_BYTES = 1_048_576

# pydantic error types that mean "this value is not even of the right kind": the file cannot be
# read as a postmortem. Everything else is a contract violation the linter reports.
_TYPE_ERRORS = frozenset(
    {
        "string_type",
        "string_unicode",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "date_type",
        "date_parsing",
        "date_from_datetime_parsing",
        "date_from_datetime_inexact",
        "datetime_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_object_invalid",
    }
)

_EXPECTED = {
    "string": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (YYYY-MM-DD HH:MM[:SS][+HH:MM])",
}


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """A front-matter value that breaks the contract; the field is left out of the model."""

    field: FieldPath
    message: str
    kind: str
    """The pydantic error type (``enum``, ``extra_forbidden``, ``missing``, ...)."""
    line: int

    @property
    def dotted(self) -> str:
        """``follow_ups[2].status``."""
        return dotted(self.field)


@dataclass(frozen=True, slots=True)
class Section:
    """An H1/H2 heading and the Markdown under it, up to the next H1/H2."""

    heading: str
    level: int
    line: int
    """1-based line of the heading."""
    body: str
    """The raw lines under the heading, joined with ``\\n``."""
    part: Part | None


@dataclass(frozen=True)
class ParsedPostmortem:
    """A postmortem file read into the model, with everything needed to point at its lines."""

    path: str
    text: str
    postmortem: Postmortem
    front_matter: FrontMatter
    sections: tuple[Section, ...]
    """Every H1/H2 section from the first H2 on, in file order."""
    title_heading: Section | None
    """The ``# Title`` line before the first part, if any."""
    preamble: str
    """Text between the front matter and the first H2 heading, less the title H1."""
    preamble_line: int
    issues: tuple[SchemaIssue, ...] = ()
    invalid_fields: frozenset[str] = frozenset()
    """Top-level front-matter keys left out of the model because of an issue."""
    _part_sections: dict[str, Section] = field(default_factory=dict, repr=False)

    @property
    def lines(self) -> list[str]:
        """The file's lines (without newline characters)."""
        return self.text.split("\n")

    def line_of(self, path: FieldPath) -> int:
        """The 1-based line of a front-matter field (or its nearest present ancestor)."""
        return self.front_matter.line_of(path)

    def require_no_issues(self, doing: str) -> None:
        """Raise :class:`DocumentError` at the first contract issue: fields with an issue are
        not in the model, so writing the model out (``doing``) would lose what the author wrote."""
        if self.issues:
            issue = self.issues[0]
            raise DocumentError(
                f"cannot {doing} while a field breaks the contract: {issue.message}",
                path=self.path,
                line=issue.line,
                field=issue.dotted,
            )

    def section(self, part_key: str) -> Section | None:
        """The first section whose heading names the part ``part_key``."""
        return self._part_sections.get(part_key)


def read_postmortem(path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedPostmortem:
    """Read and parse a postmortem file, refusing files over ``max_bytes`` before reading them."""
    location = str(path)
    try:
        # One open, one fstat: the size is checked before anything is read.
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= max_bytes:
                data = handle.read()
        if size > max_bytes:
            raise DocumentError(
                f"file is {_megabytes(size)}, over the {_megabytes(max_bytes)} limit for a postmortem "
                "(max_file_bytes)",
                path=location,
                line=1,
            )
    except OSError as exc:
        raise DocumentError(f"cannot read file: {exc.strerror or exc}", path=location) from None
    return parse_postmortem(data, location, max_bytes=max_bytes)


def parse_postmortem(
    data: bytes | str, path: str = "<string>", *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedPostmortem:
    """Parse a postmortem from bytes or text. Raises :class:`DocumentError` with file and line."""
    text = (
        _decode(data, path, max_bytes) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    )
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError(
            "empty file: a postmortem starts with YAML front matter between '---' lines",
            path=path,
            line=1,
        )
    lines = text.split("\n")
    front_matter, body_start = load_front_matter(lines, path)
    titled = bool(front_matter.data.get("title"))
    sections, title_heading, preamble, preamble_line = _split_sections(lines, body_start, titled)
    part_sections: dict[str, Section] = {}
    for section in sections:
        if section.part is not None and section.level == 2:
            part_sections.setdefault(section.part.key, section)
    narrative = _narrative(part_sections)
    postmortem, issues, invalid = _validate(front_matter, narrative, path)
    return ParsedPostmortem(
        path=path,
        text=text,
        postmortem=postmortem,
        front_matter=front_matter,
        sections=tuple(sections),
        title_heading=title_heading,
        preamble=preamble,
        preamble_line=preamble_line,
        issues=tuple(issues),
        invalid_fields=frozenset(invalid),
        _part_sections=part_sections,
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB"


def _decode(data: bytes, path: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise DocumentError(
            f"file is {_megabytes(len(data))}, over the {_megabytes(max_bytes)} limit for a postmortem "
            "(max_file_bytes)",
            path=path,
            line=1,
        )
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise DocumentError(
            "binary file (NUL byte): a postmortem is UTF-8 Markdown", path=path, line=line
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DocumentError(
            f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded",
            path=path,
            line=line,
        ) from None


def _split_sections(
    lines: list[str], body_start: int, titled: bool
) -> tuple[list[Section], Section | None, str, int]:
    body = lines[body_start:]
    headings = heading_lines_of(body)
    first_h2 = next((index for index, level, _title in headings if level == 2), len(body))
    # The first H1 is the title line, derived from the `title` field; without that field an
    # H1 is ordinary preamble text and is kept as written.
    title_index = (
        next((index for index, level, _title in headings if level == 1 and index < first_h2), None)
        if titled
        else None
    )
    sections: list[Section] = []
    title_heading: Section | None = None
    for number, (index, level, title) in enumerate(headings):
        if index < first_h2:
            if index == title_index:
                # The title H1 is derived from `title`; it carries no body of its own.
                title_heading = Section(title, 1, body_start + index + 1, "", None)
            continue  # other headings before the first part stay in the preamble
        end = headings[number + 1][0] if number + 1 < len(headings) else len(body)
        part = part_for_heading(title) if level == 2 else None
        sections.append(
            Section(title, level, body_start + index + 1, "\n".join(body[index + 1 : end]), part)
        )
    preamble_lines = [line for i, line in enumerate(body[:first_h2]) if i != title_index]
    preamble = "\n".join(line.rstrip() for line in preamble_lines).strip("\n")
    return sections, title_heading, preamble, body_start + 1


def _narrative(part_sections: dict[str, Section]) -> Narrative:
    # Bodies were cut at every H1/H2 heading, so they hold none: only the tidying of
    # normalize_prose is needed, not its heading scan (which is most of its cost).
    return Narrative.model_construct(
        **{key: tidy_prose(section.body) for key, section in part_sections.items()}
    )


def _validate(
    front_matter: FrontMatter, narrative: Narrative, path: str
) -> tuple[Postmortem, list[SchemaIssue], set[str]]:
    data: dict[str, Any] = dict(front_matter.data)
    try:
        return Postmortem.model_validate({**data, "narrative": narrative}), [], set()
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    issues: list[SchemaIssue] = []
    invalid: set[str] = set()
    for error in errors:
        loc: FieldPath = tuple(error["loc"])
        line = front_matter.line_of(loc)
        if error["type"] in _TYPE_ERRORS:
            raise FrontMatterError(
                _type_message(error), path=path, line=line, field=dotted(loc)
            ) from None
        issues.append(SchemaIssue(loc, _contract_message(error), error["type"], line))
        invalid.add(str(loc[0]))
    kept = {key: value for key, value in data.items() if str(key) not in invalid}
    try:
        postmortem = Postmortem.model_validate({**kept, "narrative": narrative})
    except ValidationError as exc:  # pragma: no cover - every failing key was removed
        raise FrontMatterError(str(exc), path=path) from None
    return postmortem, issues, invalid


def _type_message(error: Any) -> str:
    family = error["type"].split("_")[0]
    expected = _EXPECTED.get(family, family)
    value = error.get("input")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"expected {expected}, got {type(value).__name__} {shown}"


def _contract_message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "enum":
        allowed = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        value = error.get("input")
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{value!r} is not one of {', '.join(allowed)}{hint}"
    if error["type"] == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
