"""YAML front matter: split it off, load it with the C loader, and map every field to its line."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import yaml

from norecur.errors import FrontMatterError

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

__all__ = ["FieldPath", "FrontMatter", "dotted", "split_front_matter"]

try:  # libyaml's parser is ~10x faster; fall back so a build without libyaml still works
    _Base: type = yaml.CBaseLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.BaseLoader

_PLAIN = "!norecur-plain"
"""Tag given to untagged plain scalars while composing; :class:`_Builder` resolves it."""


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Composes nodes without resolving tags: the composer calls these once per node, and
    PyYAML's resolver machinery was a third of the cost of reading a postmortem."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


FieldPath = tuple[str | int, ...]
"""A path into the front matter: ``("follow_ups", 2, "owner")``."""

_DELIMITERS = ("---",)
_CLOSERS = ("---", "...")


class FrontMatter:
    """Loaded front matter: the data, where it sits in the file, and the line of every field."""

    __slots__ = ("_lines", "_locate", "_marks", "data", "first_line", "last_line")

    def __init__(
        self,
        data: dict[str, Any],
        first_line: int,
        last_line: int,
        marks: dict[FieldPath, Any] | None = None,
        locate: Callable[[Any], int] | None = None,
    ) -> None:
        self.data = data
        self.first_line = first_line
        """1-based file line of the opening ``---``."""
        self.last_line = last_line
        """1-based file line of the closing ``---``."""
        self._marks = marks or {}
        self._locate = locate
        self._lines: dict[FieldPath, int] | None = None

    @property
    def lines(self) -> dict[FieldPath, int]:
        """1-based file line of each key (mappings) or item (sequences).

        Worked out the first time it is asked for: most files are read and found clean
        without needing one line number.
        """
        if self._lines is None:
            locate = self._locate
            self._lines = {p: locate(m) for p, m in self._marks.items()} if locate else {}
        return self._lines

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrontMatter):
            return NotImplemented
        mine = (self.data, self.first_line, self.last_line, self.lines)
        return mine == (other.data, other.first_line, other.last_line, other.lines)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrontMatter(lines {self.first_line}-{self.last_line}, {len(self.data)} fields)"

    def line_of(self, path: FieldPath) -> int:
        """The line of ``path``, else of its nearest present ancestor, else the opening line."""
        probe = tuple(path)
        while probe:
            mark = self._marks.get(probe)
            if mark is not None and self._locate is not None:
                return self._locate(mark)
            probe = probe[:-1]
        return self.first_line


def dotted(path: FieldPath) -> str:
    """``("follow_ups", 2, "status")`` as ``follow_ups[2].status``."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def split_front_matter(lines: list[str], path: str) -> tuple[int, int]:
    """0-based indices of the opening and closing delimiter lines."""
    if not lines or lines[0].rstrip() not in _DELIMITERS:
        raise FrontMatterError(
            "no front matter: a postmortem starts with a '---' line, then YAML fields, then '---'",
            path=path,
            line=1,
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() in _CLOSERS:
            return 0, index
    raise FrontMatterError(
        "front matter is never closed: add a '---' line after the YAML fields", path=path, line=1
    )


def load_front_matter(lines: list[str], path: str) -> tuple[FrontMatter, int]:
    """Load the front matter; returns it and the 0-based index of the first body line."""
    opening, closing = split_front_matter(lines, path)
    # The final newline matters: without it a block scalar ending the front matter loses its own.
    text = "\n".join(lines[opening + 1 : closing]) + "\n"
    offset = opening + 2  # file line of the first YAML line
    locate = _LineLocator(text, offset)
    loader = _Loader(text)
    marks: dict[FieldPath, Any] = {}
    try:
        node = loader.get_single_node()
        # One pass builds the data and the line map; PyYAML's own constructor would walk the
        # tree a second time in pure Python, which dominated the cost of reading a file.
        data = _Builder(locate, marks, path).build(node) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        raise FrontMatterError(
            _yaml_message(exc), path=path, line=_yaml_line(exc, locate, offset)
        ) from None
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"invalid YAML: {exc}", path=path, line=offset) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError(
            f"front matter must be a mapping of fields, not a {type(data).__name__}",
            path=path,
            line=offset,
        )
    return FrontMatter(data, opening + 1, closing + 1, marks, locate), closing + 1


_OPENERS = (
    "while scanning a quoted scalar",
    "while parsing a flow",
    "while scanning a block scalar",
)


def _opened_here(exc: yaml.MarkedYAMLError) -> bool:
    """True when the error is an unclosed quote, bracket or block: the fix goes where it opened,
    while the problem mark points where YAML gave up (often the end of the front matter)."""
    return bool(exc.context and exc.context.startswith(_OPENERS) and exc.context_mark)


def _yaml_line(exc: yaml.MarkedYAMLError, locate: _LineLocator, offset: int) -> int:
    mark = exc.context_mark if _opened_here(exc) else (exc.problem_mark or exc.context_mark)
    return locate(mark) if mark is not None else offset


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or str(exc)
    if _opened_here(exc):
        return f"invalid YAML: {problem} ({str(exc.context).removeprefix('while ')} that starts on this line)"
    return f"invalid YAML: {problem}"


class _LineLocator:
    """File line of a YAML mark, counted in ``\\n`` only.

    YAML also breaks lines at U+0085, U+2028 and U+2029, so its own line numbers drift from
    what an editor shows; the character index does not.
    """

    def __init__(self, text: str, offset: int) -> None:
        self.offset = offset
        self.simple = not any(ch in text for ch in "\x85\u2028\u2029\r")
        self.starts = [0]
        if not self.simple:
            index = text.find("\n")
            while index != -1:
                self.starts.append(index + 1)
                index = text.find("\n", index + 1)

    def __call__(self, mark: Any) -> int:
        if self.simple:
            return int(mark.line) + self.offset
        return bisect.bisect_right(self.starts, mark.index) - 1 + self.offset


_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = yaml.SafeLoader.yaml_constructors
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
"""Stateless for scalars: the safe constructors only read the node they are given."""
# YAML 1.1 implicit typing of plain scalars, exactly as yaml.safe_load does it: candidate
# resolvers are keyed by the scalar's first character.
_IMPLICIT = yaml.SafeLoader.yaml_implicit_resolvers


# Scalars whose first character has only bool/null resolvers match one of a few exact words;
# a dict lookup gives the same answer as PyYAML's regexes for them, at a fraction of the cost.
_BY_WORD: dict[str, str] = {}
_REGEX_FIRST: set[str] = set()
for _first, _resolvers in _IMPLICIT.items():
    _tags = {str(tag) for tag, _pattern in _resolvers}
    if (
        _first
        and _first.isalpha()
        and _tags <= {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}
    ):
        continue
    _REGEX_FIRST.add(_first)
for _word in [
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
]:
    _BY_WORD[_word] = "tag:yaml.org,2002:bool"
for _word in ("null", "Null", "NULL", "~", ""):
    _BY_WORD[_word] = "tag:yaml.org,2002:null"


def _plain_text(node: yaml.Node) -> bool:
    """True for a plain scalar that is certainly text, decided without a function call chain."""
    value = node.value
    return node.tag is _PLAIN and value[:1] not in _REGEX_FIRST and value not in _BY_WORD


def _implicit_tag(value: str) -> str:
    """The tag PyYAML's SafeLoader resolves for the plain scalar ``value``."""
    first = value[:1]
    if first in _REGEX_FIRST:
        for tag, pattern in _IMPLICIT[first]:
            if pattern.match(value):
                return str(tag)
        return _STR
    return _BY_WORD.get(value, _STR)


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?")


def _iso_timestamp(value: str) -> date | datetime | None:
    """The common timestamp shapes through the C ``fromisoformat``; None for any other shape,
    which PyYAML's constructor then reads (to the same value, more slowly)."""
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
        if _ISO_DATETIME.fullmatch(value):
            return datetime.fromisoformat(value)
    except ValueError:
        return None  # an impossible date: PyYAML's constructor reports it
    return None


_MAX_DEPTH = 64
"""Deeper nesting is refused: no postmortem field needs it, and it could exhaust the stack."""


class _Builder:
    """Builds Python data from a composed YAML node tree, recording the line of every field.

    Scalars other than strings go through PyYAML's safe constructors, so ints, floats, bools,
    nulls and timestamps mean exactly what they mean to ``yaml.safe_load``.
    """

    def __init__(self, locate: _LineLocator, marks: dict[FieldPath, Any], path: str) -> None:
        self.locate = locate
        self.marks = marks
        """The start mark of each key and item; lines are worked out from them on demand."""
        self.path = path
        self.seen: set[int] = set()

    def error(
        self, message: str, node: yaml.Node, prefix: FieldPath, line: int | None = None
    ) -> FrontMatterError:
        field = dotted(prefix) or None
        where = line if line is not None else self.locate(node.start_mark)
        return FrontMatterError(message, path=self.path, line=where, field=field)

    def build(self, node: yaml.Node, prefix: FieldPath = (), depth: int = 0) -> Any:
        if node.__class__ is yaml.ScalarNode:
            return self.scalar(node, prefix)
        return self.collection(node, prefix, depth)

    def scalar(self, node: yaml.ScalarNode, prefix: FieldPath) -> Any:
        tag = node.tag
        if tag is _PLAIN:
            tag = _implicit_tag(node.value)
        if tag == _STR:
            return node.value
        if tag == _TIMESTAMP:
            fast = _iso_timestamp(node.value)
            if fast is not None:
                return fast
        node.tag = tag
        constructor = _SCALARS.get(tag)
        if constructor is None or tag in (_MAP, _SEQ):
            raise self.error(f"YAML tag {tag!r} is not supported in postmortems", node, prefix)
        try:
            return constructor(_CONSTRUCTOR, node)
        except (ValueError, IndexError, KeyError, AttributeError, TypeError, OverflowError) as exc:
            kind = tag.rsplit(":", 1)[-1]
            raise self.error(f"{node.value!r} is not a valid {kind}: {exc}", node, prefix) from None
        except yaml.YAMLError as exc:
            raise self.error(f"{node.value!r}: {exc}", node, prefix) from None

    def collection(self, node: yaml.Node, prefix: FieldPath, depth: int) -> Any:
        if depth >= _MAX_DEPTH:
            raise self.error(f"nested deeper than {_MAX_DEPTH} levels", node, prefix)
        # An alias makes two paths share one node; refusing it keeps every field at one place in
        # the file and stops alias bombs from expanding exponentially.
        if id(node) in self.seen:
            raise self.error(
                "YAML aliases (*name) are not supported in postmortems; write the value out",
                node,
                prefix,
                line=self.locate(self.marks[prefix]) if prefix in self.marks else None,
            )
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.error(
                    f"YAML tag {node.tag!r} is not supported in postmortems", node, prefix
                )
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.value == "<<" and key_node.tag in (_PLAIN, _MERGE):
                    raise self.error(
                        "YAML merge keys (<<) are not supported in postmortems", key_node, prefix
                    )
                key = key_node.value
                if key_node.tag is not _STR and not _plain_text(key_node):
                    key = self.scalar(key_node, prefix)
                if not isinstance(key, str):
                    # `yes:`, `on:`, `~:` or `2026:` read as bool/null/int: no field is named so.
                    raise self.error(
                        f"field name {key_node.value!r} reads as {type(key).__name__}, not text; "
                        "quote it if it is meant as a name",
                        key_node,
                        prefix,
                    )
                path = (*prefix, key)
                if key in result:
                    raise FrontMatterError(
                        f"duplicate key (first on line {self.locate(self.marks[path])}); YAML "
                        "would silently keep only the last",
                        path=self.path,
                        line=self.locate(key_node.start_mark),
                        field=dotted(path),
                    )
                self.marks[path] = key_node.start_mark
                if value_node.tag is _STR or _plain_text(value_node):  # text: most values
                    result[key] = value_node.value
                elif value_node.__class__ is yaml.ScalarNode:
                    result[key] = self.scalar(value_node, path)
                else:
                    result[key] = self.collection(value_node, path, depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.error(
                    f"YAML tag {node.tag!r} is not supported in postmortems", node, prefix
                )
            items = []
            for index, item in enumerate(node.value):
                self.marks[(*prefix, index)] = item.start_mark
                items.append(self.build(item, (*prefix, index), depth + 1))
            return items
        raise self.error(
            f"unexpected YAML node {type(node).__name__}", node, prefix
        )  # pragma: no cover
