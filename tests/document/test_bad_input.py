"""Garbage in: every file that cannot be read as a postmortem gives one DocumentError line.

The line names the file and the line to look at, counted in the file (the opening '---' is
line 1), and the field when there is one. Nothing else ever escapes parse_postmortem.
"""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norecur.document import (
    DEFAULT_MAX_BYTES,
    ParsedPostmortem,
    parse_postmortem,
    read_postmortem,
)
from norecur.errors import DocumentError, FrontMatterError, NorecurError


def _error(data: bytes | str, path: str = "pm.md") -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse_postmortem(data, path)
    return caught.value


def _parse_or_error(data: bytes | str, path: str = "pm.md") -> ParsedPostmortem | DocumentError:
    try:
        return parse_postmortem(data, path)
    except DocumentError as error:
        return error


def _read_error(path: Path) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        read_postmortem(path)
    return caught.value


def _assert_one_line(error: NorecurError, path: str, line: int) -> None:
    text = error.one_line()
    assert "\n" not in text
    assert "\r" not in text
    assert text.startswith(f"{path}:{line}: ")
    assert str(error) == text


# --------------------------------------------------------------------------------------------
# Not text
# --------------------------------------------------------------------------------------------


def test_binary_file_with_a_nul_byte(write) -> None:
    path = write(b"---\nid: a\n---\n\x89PNG\x00\x01\x02")

    error = _read_error(path)

    assert type(error) is DocumentError
    assert error.message == "binary file (NUL byte): a postmortem is UTF-8 Markdown"
    assert error.line == 4
    _assert_one_line(error, str(path), 4)


def test_non_utf8_bytes_name_the_line_of_the_bad_byte(write) -> None:
    path = write(b"---\nid: a\ntitle: caf\xe9\n---\n")

    error = _read_error(path)

    assert type(error) is DocumentError
    assert error.message == "not UTF-8: byte 0xe9 at offset 20 cannot be decoded"
    assert error.line == 3
    _assert_one_line(error, str(path), 3)


def test_latin1_file_after_the_front_matter(write) -> None:
    path = write(b"---\nid: a\n---\n\n## Summary\n\nna\xefve\n")

    error = _read_error(path)

    assert error.line == 7
    assert "byte 0xef" in error.message


@pytest.mark.parametrize("data", [b"", "", b"   \n\t\n  ", "\n\n\n", "\r\n \r\n"])
def test_empty_or_blank_file(data: bytes | str) -> None:
    error = _error(data)

    assert type(error) is DocumentError
    assert (
        error.message
        == "empty file: a postmortem starts with YAML front matter between '---' lines"
    )
    assert error.line == 1
    _assert_one_line(error, "pm.md", 1)


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------


def test_ten_megabyte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:  # sparse: 10 MiB of NULs without writing them
        handle.truncate(10 * 1_048_576)

    started = time.perf_counter()
    error = _read_error(path)

    assert time.perf_counter() - started < 0.5
    assert type(error) is DocumentError
    assert error.message == (
        "file is 10.0 MiB, over the 1.0 MiB limit for a postmortem (max_file_bytes)"
    )
    assert error.path == str(path)
    assert str(path) in error.one_line()
    assert "\n" not in error.one_line()


def test_size_limit_is_configurable(write) -> None:
    path = write("---\nid: a\n---\n" + "x" * 200)

    with pytest.raises(DocumentError, match=r"over the 0\.0 MiB limit"):
        read_postmortem(path, max_bytes=100)
    assert read_postmortem(path, max_bytes=1000).postmortem.id == "a"


def test_oversized_bytes_are_refused_by_parse_too() -> None:
    error = _error(b"---\n---\n" + b"x" * DEFAULT_MAX_BYTES)

    assert (
        error.message == "file is 1.0 MiB, over the 1.0 MiB limit for a postmortem (max_file_bytes)"
    )


def test_size_limit_error_names_path_and_line(tmp_path: Path) -> None:
    """The brief for every error: one line with path *and* line; a whole-file problem is line 1,
    as for an empty file."""
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.truncate(10 * 1_048_576)

    _assert_one_line(_read_error(path), str(path), 1)


@pytest.mark.parametrize("name", ["missing.md", "."])
def test_unreadable_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    error = _read_error(path)

    assert type(error) is DocumentError
    assert error.message.startswith("cannot read file: ")
    assert error.one_line().startswith(f"{path}: cannot read file: ")


# --------------------------------------------------------------------------------------------
# Front matter: missing, unclosed, malformed, wrong shape
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            "# Title\n\n## Summary\n",
            "no front matter: a postmortem starts with a '---' line, then YAML fields, then '---'",
            1,
        ),
        (
            "---\nid: a\ntitle: x\n\n## Summary\n",
            "front matter is never closed: add a '---' line after the YAML fields",
            1,
        ),
        ("---\n- a\n- b\n---\n", "front matter must be a mapping of fields, not a list", 2),
        ("---\njust some words\n---\n", "front matter must be a mapping of fields, not a str", 2),
        (
            "---\n# only a comment\n42\n---\n",
            "front matter must be a mapping of fields, not a int",
            2,
        ),
    ],
    ids=["missing", "never-closed", "list", "scalar", "number"],
)
def test_front_matter_shape(text: str, message: str, line: int) -> None:
    error = _error(text)

    assert type(error) is FrontMatterError
    assert error.message == message
    assert error.line == line
    _assert_one_line(error, "pm.md", line)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        # line 1 is '---', the comments are lines 2-3: the bad line is line 5 of the file
        (
            "---\n# a comment\n# another\nid: a\ntitle: x: y\nteam: t\n---\n",
            5,
            "mapping values are not allowed in this context",
        ),
        ("---\nid: a\n\tteam: x\n---\n", 3, "found a tab character that violates indentation"),
        (
            "---\nid: a\ntitle: x\n  bad: indent\n---\n",
            4,
            "mapping values are not allowed in this context",
        ),
        ("---\nid: a\n- item\n---\n", 3, "did not find expected key"),
        ("---\nid: a\nteam: x\n@at: sign\n---\n", 4, "found character that cannot start any token"),
    ],
    ids=["value-with-colon", "tab", "bad-indent", "list-in-mapping", "reserved-char"],
)
def test_invalid_yaml_points_at_the_bad_line_of_the_file(
    text: str, line: int, problem: str
) -> None:
    error = _error(text)

    assert type(error) is FrontMatterError
    assert error.message == f"invalid YAML: {problem}"
    assert error.line == line
    _assert_one_line(error, "pm.md", line)


def test_invalid_yaml_line_counts_crlf_and_bom_the_same(write) -> None:
    path = write(b"\xef\xbb\xbf---\r\n# c\r\nid: a\r\ntitle: x: y\r\n---\r\n")

    assert _read_error(path).line == 4


@pytest.mark.parametrize(
    ("text", "field", "line", "message"),
    [
        ("---\nid: a\nservices: 5\n---\n", "services", 3, "expected a list, got int 5"),
        (
            "---\nid: a\nfollow_ups: {a: 1}\n---\n",
            "follow_ups",
            3,
            "expected a list, got dict {'a': 1}",
        ),
        (
            "---\nid: a\nfollow_ups:\n  - id: x\n    due: next week\n---\n",
            "follow_ups[0].due",
            5,
            "expected a date (YYYY-MM-DD), got str 'next week'",
        ),
        ("---\ntitle: yes\n---\n", "title", 2, "expected text, got bool True"),
        (
            "---\ntitle: 2026-01-01\n---\n",
            "title",
            2,
            "expected text, got date datetime.date(2026, 1, 1)",
        ),
        (
            "---\nblast_radius:\n  users: 1.5\n---\n",
            "blast_radius.users",
            3,
            "expected a whole number, got float 1.5",
        ),
        (
            "---\nblast_radius:\n  users: many\n---\n",
            "blast_radius.users",
            3,
            "expected a whole number, got str 'many'",
        ),
        (
            "---\neval_delta:\n  gap: maybe\n---\n",
            "eval_delta.gap",
            3,
            "expected true or false, got str 'maybe'",
        ),
        ("---\ncause: retrieval\n---\n", "cause", 2, "expected a mapping, got str 'retrieval'"),
        (
            "---\ntimeline:\n  - time: soon\n    event: x\n---\n",
            "timeline[0].time",
            3,
            "expected a date and time (YYYY-MM-DD HH:MM[:SS][+HH:MM]), got str 'soon'",
        ),
    ],
    ids=[
        "services-int",
        "follow-ups-mapping",
        "due-words",
        "title-bool",
        "title-date",
        "count-float",
        "count-word",
        "gap-word",
        "cause-scalar",
        "time-word",
    ],
)
def test_value_of_the_wrong_type(text: str, field: str, line: int, message: str) -> None:
    error = _error(text)

    assert type(error) is FrontMatterError
    assert error.field == field
    assert error.line == line
    assert error.message == message
    assert error.one_line() == f"pm.md:{line}: {field}: {message}"


def test_duplicate_key_names_both_lines() -> None:
    error = _error("---\nid: a\ntitle: x\nteam: t\nid: b\n---\n")

    assert type(error) is FrontMatterError
    assert error.line == 5
    assert error.field == "id"
    assert (
        error.message == "duplicate key (first on line 2); YAML would silently keep only the last"
    )
    assert error.one_line() == (
        "pm.md:5: id: duplicate key (first on line 2); YAML would silently keep only the last"
    )


def test_duplicate_nested_key() -> None:
    error = _error("---\nfollow_ups:\n  - id: a\n    owner: x\n    owner: y\n---\n")

    assert (error.line, error.field) == (5, "follow_ups[0].owner")
    assert "first on line 4" in error.message


def test_hostile_key_stays_on_one_line() -> None:
    error = _error('---\n"a\\nb\\rc": 1\n"a\\nb\\rc": 2\n---\n')

    _assert_one_line(error, "pm.md", 3)


def test_hostile_control_characters_do_not_reach_the_terminal() -> None:
    """one_line() promises one line with control characters from hostile input escaped: an ESC
    (terminal escape sequences) or a U+2028/U+0085 line break must not come through raw."""
    key = "\\e[2J\\e[31mowned\\L\\N"  # YAML escapes: ESC, ESC, LINE SEPARATOR, NEXT LINE
    error = _error(f'---\n"{key}": 1\n"{key}": 2\n---\n')

    text = error.one_line()
    assert text.startswith("pm.md:3: ")
    assert len(text.splitlines()) == 1
    assert not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


# --------------------------------------------------------------------------------------------
# Aliases, merge keys, tags, depth: what YAML can do that a postmortem must not
# --------------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    "---\n"
    + "\n".join(
        [
            'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
            *(
                f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
                for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
            ),
        ]
    )
    + "\n---\n"
)


def test_alias_bomb_is_refused_quickly() -> None:
    started = time.perf_counter()
    error = _error(BILLION_LAUGHS)
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5
    assert type(error) is FrontMatterError
    assert (
        error.message
        == "YAML aliases (*name) are not supported in postmortems; write the value out"
    )
    assert error.field == "b[0]"


def test_merge_key_bomb_is_refused_quickly() -> None:
    lines = ["---", "l0: &l0 {k: v}"]
    lines += [f"l{i}: &l{i} {{<<: [{', '.join([f'*l{i - 1}'] * 9)}]}}" for i in range(1, 9)]
    started = time.perf_counter()
    error = _error("\n".join(lines) + "\n---\n")

    assert time.perf_counter() - started < 0.5
    assert type(error) is FrontMatterError
    assert error.line == 3


def test_alias_error_points_at_the_line_of_the_alias() -> None:
    """The error names the field that holds the alias; its line must be that field's line."""
    error = _error("---\ncause: &c {primary: model}\ntitle: x\nblast_radius: *c\n---\n")

    assert error.field == "blast_radius"
    assert error.line == 4


@pytest.mark.parametrize(
    ("yaml_line", "line"),
    [
        ("    due: 2026-02-30", 4),  # a date YAML resolves, but not a real day
        ("    due: 0000-01-01", 4),
        ("    closed: 2026-13-01", 4),
        ("    owner: !!int x", 4),
        ("    owner: !!float x", 4),
        ("    owner: !!bool x", 4),
        ("    due: !!timestamp x", 4),
    ],
    ids=["feb-30", "year-0", "month-13", "int-tag", "float-tag", "bool-tag", "timestamp-tag"],
)
def test_yaml_value_that_cannot_be_constructed_is_a_front_matter_error(
    yaml_line: str, line: int
) -> None:
    text = f"---\nfollow_ups:\n  - id: a\n{yaml_line}\n---\n"

    # Today a ValueError/KeyError/AttributeError escapes instead: the test then fails with it.
    error = _error(text)

    assert type(error) is FrontMatterError
    assert error.line == line
    _assert_one_line(error, "pm.md", line)


@pytest.mark.parametrize(
    "moment",
    ["2026-01-01 25:00:00", "2026-01-01 10:61:00", "2026-01-01 10:00:00+25:00"],
    ids=["hour-25", "minute-61", "offset-25h"],
)
def test_impossible_timestamp_is_a_front_matter_error(moment: str) -> None:
    text = f"---\ntimeline:\n  - time: {moment}\n    event: x\n---\n"

    error = _error(text)

    assert type(error) is FrontMatterError
    assert error.line == 3


@pytest.mark.parametrize(
    "text",
    [
        "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\n",
        "---\na: " + "{b: " * 3000 + "c" + "}" * 3000 + "\n---\n",
        "---\n" + "".join("  " * depth + f"k{depth}:\n" for depth in range(2000)) + "---\n",
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings"],
)
def test_deeply_nested_yaml_parses_or_is_a_document_error(text: str) -> None:
    """Either outcome is fine; a RecursionError escaping parse_postmortem is not."""
    outcome = _parse_or_error(text)

    if isinstance(outcome, DocumentError):
        assert outcome.line is not None
        _assert_one_line(outcome, "pm.md", outcome.line)
    else:
        assert outcome.invalid_fields == frozenset({"a" if "k0" not in text else "k0"})


@pytest.mark.parametrize(
    "value",
    ["!!python/object/apply:os.system ['true']", "!!set {a, b}", "!local x", "!!omap [a: 1]"],
)
def test_unsupported_yaml_tags_are_refused(value: str) -> None:
    error = _error(f"---\nid: a\nservices: {value}\n---\n")

    assert type(error) is FrontMatterError
    assert error.line == 3
    assert error.field == "services"
    assert "is not supported in postmortems" in error.message


# --------------------------------------------------------------------------------------------
# Fuzz: parse, or raise a DocumentError; never anything else
# --------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

YAML_TOKENS = st.sampled_from(
    [
        "id",
        "title",
        "services",
        "follow_ups",
        "due",
        "time",
        "cause",
        "primary",
        "blast_radius",
        "users",
        "a",
        ":",
        ": ",
        " ",
        "  ",
        "\n",
        "\n  ",
        "\n  - ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&x ",
        "*x",
        "!!int ",
        "!!str ",
        "!!bool ",
        "!!binary ",
        "!x ",
        "<<",
        "'",
        '"',
        "#",
        "|",
        ">",
        "?",
        "%",
        "@",
        "`",
        "...",
        "---",
        "~",
        "null",
        "true",
        "yes",
        "1",
        "-1",
        "1.5",
        ".inf",
        "2026-05-12",
        "2026-02-30",
        "2026-05-12 18:00:00+05:30",
        "0000-00-00",
        "\t",
        "\r\n",
        "\r",
        "\x00",
        "é",
        "\ufeff",
        "\u2028",
        "\x85",
        "## Summary",
        "# T",
        "```",
        "\\",
    ]
)

FRONT_MATTER_LIKE = st.builds(
    lambda head, body, tail: (
        "---\n" + "".join(head) + "\n---\n" + "".join(tail) if body else "".join(head)
    ),
    st.lists(YAML_TOKENS, max_size=30),
    st.booleans(),
    st.lists(YAML_TOKENS | st.text(max_size=5), max_size=10),
)


def _parses_or_refuses(data: bytes | str) -> None:
    try:
        parse_postmortem(data, "fuzz.md")
    except DocumentError as error:
        text = error.one_line()
        assert "\n" not in text
        assert "\r" not in text
        assert text.startswith("fuzz.md")


@FUZZ
@given(
    st.binary(max_size=300) | FRONT_MATTER_LIKE.map(lambda s: s.encode("utf-8", "surrogatepass"))
)
def test_arbitrary_bytes_parse_or_raise_a_document_error(data: bytes) -> None:
    _parses_or_refuses(data)


@FUZZ
@given(st.text(max_size=300) | FRONT_MATTER_LIKE | st.text(max_size=200).map(lambda s: "---\n" + s))
def test_arbitrary_text_parse_or_raise_a_document_error(text: str) -> None:
    _parses_or_refuses(text)
