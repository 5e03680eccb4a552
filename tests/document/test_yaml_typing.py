"""Front matter means what yaml.safe_load says it means: plain scalars are typed the same way."""

from __future__ import annotations

from datetime import datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from norecur.document._frontmatter import _IMPLICIT, _implicit_tag, load_front_matter
from norecur.errors import FrontMatterError

WORDS = [
    "yes",
    "Yes",
    "YES",
    "yEs",
    "no",
    "No",
    "NO",
    "true",
    "True",
    "TRUE",
    "tRue",
    "false",
    "False",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "y",
    "n",
    "Y",
    "N",
    "null",
    "Null",
    "NULL",
    "nUll",
    "~",
    "title",
    "team",
    "on_call",
    "nothing",
    "offset",
    "onward",
    "=",
    "1",
    "0x1F",
    "1_000",
    "-1",
    "+1",
    ".5",
    ".inf",
    "-.inf",
    ".nan",
    "2026-01-01",
    "12:30",
    "1e3",
    "3.",
    "0o17",
    "0b101",
    "_x",
]


def _reference(value: str) -> str:
    for tag, pattern in _IMPLICIT.get(value[:1] if value else "", ()):
        if pattern.match(value):
            return str(tag)
    return "tag:yaml.org,2002:str"


def test_known_words_resolve_like_pyyaml():
    for word in [*WORDS, "", "2026-01-01 10:00:00+05:30"]:
        assert _implicit_tag(word) == _reference(word), word


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("yYnNtToOfFaAlLuUeEsSrR~0123456789.+-:_ eExXbB"), max_size=12)
)
def test_any_plain_scalar_resolves_like_pyyaml(value):
    assert _implicit_tag(value) == _reference(value)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(WORDS))
def test_values_load_like_safe_load(word):
    lines = ["---", f"key: {word}", f"list: [{word}]", "---"]
    try:
        expected = yaml.safe_load(f"key: {word}\nlist: [{word}]")
    except yaml.YAMLError:  # '=' resolves to a tag safe_load cannot build either
        with pytest.raises(FrontMatterError):
            load_front_matter(lines, "pm.md")
        return
    front_matter, _body = load_front_matter(lines, "pm.md")
    assert front_matter.data == expected


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["", "Z", "+05:30", "-08:00", "+00:00"]),
    st.sampled_from([" ", "T"]),
    st.booleans(),
)
def test_timestamps_load_like_safe_load(moment, zone, separator, date_only):
    text = (
        moment.strftime("%Y-%m-%d")
        if date_only
        else (moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + zone)
    )
    lines = ["---", f"at: {text}", "---"]
    front_matter, _body = load_front_matter(lines, "pm.md")
    expected = yaml.safe_load(f"at: {text}")["at"]
    assert front_matter.data["at"] == expected
    assert type(front_matter.data["at"]) is type(expected)
    if isinstance(expected, datetime):
        assert front_matter.data["at"].utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-13-01", "2026-05-12 25:00:00", "2026-05-12 10:61:00+05:30"]
)
def test_impossible_timestamps_are_errors_with_a_line(text):
    with pytest.raises(FrontMatterError) as caught:
        load_front_matter(["---", "id: a", f"at: {text}", "---"], "pm.md")
    assert caught.value.line == 3
    assert caught.value.field == "at"
