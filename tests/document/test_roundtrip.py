"""Render then parse gives back the same postmortem, for every value the model can hold.

The contract is the one documented in ``norecur.document._render``: for any ``Postmortem`` ``x``,
``parse_postmortem(render_markdown(x)).postmortem == x``, and normalising a rendered file changes
nothing. The strategies below cover every field of the model, on purpose including the values
that are awkward for YAML and Markdown. Only what a UTF-8 file cannot hold (lone surrogates) is
left out.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from norecur.document import parse_postmortem, render_markdown, render_parsed
from norecur.model import (
    PARTS,
    ApparatusKind,
    ApparatusUpdate,
    BlastRadius,
    Cause,
    CauseClass,
    ContributingFactor,
    Dates,
    EvalDelta,
    FollowUp,
    FollowUpStatus,
    FollowUpType,
    Milestones,
    Narrative,
    OnCall,
    Postmortem,
    PostmortemStatus,
    TimelineEntry,
    TimelineKind,
    normalize_prose,
)

# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------

# Every character a UTF-8 file can hold: everything but the surrogate code points.
CHARS = st.characters(exclude_categories=("Cs",))

YAML_HOSTILE = (
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Yes",
    "NO",
    "true",
    "False",
    "TRUE",
    "null",
    "Null",
    "NULL",
    "~",
    "2026-01-01",
    "2026-01-01 10:00:00",
    "2026-01-01T10:00:00+05:30",
    "12:30",
    "1:20:30",
    "1_000",
    "0x1F",
    "0o17",
    "0b101",
    "007",
    "+1",
    "-1.5",
    "1e3",
    "1.0e+3",
    ".inf",
    "-.inf",
    ".nan",
    "NaN",
    "0",
    "3.14",
    ": x",
    "a: b",
    "a:b",
    "#",
    "# c",
    "a #b",
    "a# b",
    "- a",
    "-",
    "--",
    "---",
    "--- x",
    "...",
    "?",
    "? x",
    "|",
    "|-",
    ">",
    ">+",
    "*a",
    "&a",
    "!tag",
    "!!str",
    "%YAML 1.1",
    "@x",
    "`x`",
    '"q"',
    "'q'",
    "'",
    '"',
    "{a: 1}",
    "[1, 2]",
    "{",
    "]",
    ",",
    "<<",
    "=",
    "\\",
    "\\n",
    " lead",
    "trail ",
    " both ",
    "  ",
    " ",
    "\t",
    "tab\tin",
    "\ttab-lead",
    "\nlead-newline",
    "trail-newline\n",
    "\n",
    "\n\n",
    "a\n\n",
    "\n a",
    " \n",
    "x\n\n\n",
    "multi\nline\ntext",
    "line with trailing space \nnext",
    "  indented\nblock",
    "crlf\r\nline",
    "cr\ronly",
    "ünïcödé ✓ 漢字 🚀",
    "\u00a0nbsp\u00a0",
    "zero\u200bwidth",
    "\ufeffbom",
    "nel\x85break",
    "ls\u2028sep",
    "ps\u2029sep",
    "bell\x07",
    "nul\x00",
    "del\x7f",
    "\U0010ffff",
    "a" * 150,
    " ".join(["word"] * 40),
    "x: " * 40,
)


def _wrap(text: str, prefix: str, suffix: str) -> str:
    return prefix + text + suffix


AFFIXES = st.sampled_from(["", "", "", " ", "  ", "\n", "\n\n", " \n", "\t", "\r\n"])

TEXT = st.one_of(
    st.sampled_from(YAML_HOSTILE),
    st.text(CHARS, min_size=1, max_size=40),
    st.builds(_wrap, st.sampled_from(YAML_HOSTILE) | st.text(CHARS, max_size=10), AFFIXES, AFFIXES),
).filter(lambda s: len(s) >= 1)

# --------------------------------------------------------------------------------------------
# Prose: Markdown made of lines, fenced code with headings inside, then normalize_prose
# --------------------------------------------------------------------------------------------

PROSE_LINES = (
    "Plain sentence about the incident.",
    "### A sub-heading is fine",
    "#### Deeper",
    "###### Deepest",
    "#hashtag is not a heading",
    "- bullet",
    "  - nested bullet",
    "1. numbered",
    "> a quote",
    "> ## a heading inside a block quote is prose to the parser",
    "    ## indented four spaces: code, not a heading",
    "| a | b |",
    "|---|---|",
    "---",
    "***",
    "===",
    "Setext title",
    "-----",
    "<script>alert(1)</script>",
    "<!-- a comment -->",
    "**bold** _it_ `code`",
    "trailing spaces   ",
    "\ttab-indented",
    "",
    "",
    "ünïcödé ✓ 漢字 🚀",
    "yes",
    "null",
    "2026-01-01",
    ": x",
    "- a",
    "```",
    "~~~",
    "```python",
)


@st.composite
def fenced_block(draw: st.DrawFn) -> str:
    char = draw(st.sampled_from("`~"))
    width = draw(st.integers(3, 5))
    info = draw(st.sampled_from(["", "python", "yaml", "md"]))
    inner = draw(
        st.lists(
            st.sampled_from(
                ["## not a heading", "# not a title", "## Summary", "---", "...", "code()", ""]
            )
            | st.text(
                CHARS.filter(lambda c: c not in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                max_size=20,
            ),
            max_size=4,
        )
    )
    fence = char * width
    return "\n".join([fence + info, *inner, fence])


PROSE_CHUNK = st.one_of(
    st.sampled_from(PROSE_LINES),
    fenced_block(),
    st.text(CHARS, max_size=30),
)


def _normalized(chunks: list[str], prefix: str, suffix: str) -> str | None:
    try:
        return normalize_prose(prefix + "\n".join(chunks) + suffix)
    except ValueError:
        return None  # an H1/H2 heading: the model refuses it, so no Postmortem can hold it


PROSE = st.one_of(
    st.just(""),
    st.builds(
        _normalized,
        st.lists(PROSE_CHUNK, min_size=1, max_size=8),
        st.sampled_from(["", "\n", "\n\n  \n", "   "]),
        st.sampled_from(["", "\n", "  \n\n", "\r\n"]),
    ).filter(lambda s: s is not None),
)

# --------------------------------------------------------------------------------------------
# Dates and times
# --------------------------------------------------------------------------------------------

NAIVE = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
OFFSET = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
AWARE = st.builds(lambda moment, zone: moment.replace(tzinfo=zone), NAIVE, OFFSET | st.just(UTC))
MOMENT = NAIVE | AWARE
DATE = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
ZONE = st.sampled_from(sorted(zoneinfo.available_timezones()))


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


COUNT = st.integers(min_value=0) | st.integers(0, 10)
DURATION = st.floats(min_value=0, allow_nan=False, allow_infinity=False)

# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

ON_CALL = st.builds(OnCall, role=maybe(TEXT), name=maybe(TEXT))
DATES = st.builds(Dates, written=maybe(DATE), published=maybe(DATE))
MILESTONES = st.builds(
    Milestones,
    timezone=maybe(ZONE),
    impact_started=maybe(MOMENT),
    detected=maybe(MOMENT),
    acknowledged=maybe(MOMENT),
    mitigated=maybe(MOMENT),
    resolved=maybe(MOMENT),
    closed=maybe(MOMENT),
)
TIMELINE_ENTRY = st.builds(
    TimelineEntry,
    time=MOMENT,
    event=TEXT,
    kind=maybe(st.sampled_from(TimelineKind)),
    actor=maybe(TEXT),
)
# The model's field is ``class_``; the file's key is ``class``. Build through the alias.
CONTRIBUTING = st.builds(
    lambda cls, sub, desc: ContributingFactor.model_validate(
        {"class": cls, "subcategory": sub, "description": desc}
    ),
    maybe(st.sampled_from(CauseClass)),
    maybe(TEXT),
    maybe(TEXT),
)
CAUSE = st.builds(
    Cause,
    primary=maybe(st.sampled_from(CauseClass)),
    subcategory=maybe(TEXT),
    contributing=st.lists(CONTRIBUTING, max_size=3),
)
BLAST = st.builds(
    BlastRadius,
    sessions=maybe(COUNT),
    users=maybe(COUNT),
    tenants=maybe(COUNT),
    requests=maybe(COUNT),
    duration_minutes=maybe(DURATION),
    slices=st.lists(TEXT, max_size=3),
    sla_breach=maybe(st.booleans()),
    business_impact=maybe(TEXT),
)
EVAL = st.builds(
    EvalDelta,
    gap=maybe(st.booleans()),
    missing_coverage=maybe(TEXT),
    cases_to_add=maybe(COUNT),
    eval_set=maybe(TEXT),
    validation=maybe(TEXT),
    no_gap_reason=maybe(TEXT),
)
FOLLOW_UP = st.builds(
    FollowUp,
    id=maybe(TEXT),
    action=maybe(TEXT),
    owner=maybe(TEXT),
    due=maybe(DATE),
    status=maybe(st.sampled_from(FollowUpStatus)),
    type=maybe(st.sampled_from(FollowUpType)),
    apparatus_kind=maybe(st.sampled_from(ApparatusKind)),
    ticket=maybe(TEXT),
    closed=maybe(DATE),
    reason=maybe(TEXT),
)
APPARATUS_UPDATE = st.builds(
    ApparatusUpdate,
    kind=maybe(st.sampled_from(ApparatusKind)),
    change=maybe(TEXT),
    follow_up=maybe(TEXT),
)
NARRATIVE = st.builds(Narrative, **{part.key: PROSE for part in PARTS})

POSTMORTEM = st.builds(
    Postmortem,
    id=maybe(TEXT),
    title=maybe(TEXT),
    severity=maybe(TEXT),
    status=maybe(st.sampled_from(PostmortemStatus)),
    team=maybe(TEXT),
    services=st.lists(TEXT, max_size=3),
    authors=st.lists(TEXT, max_size=3),
    on_call=st.lists(ON_CALL, max_size=2),
    reviewers=st.lists(TEXT, max_size=2),
    dates=DATES,
    incident=MILESTONES,
    timeline=st.lists(TIMELINE_ENTRY, max_size=3),
    cause=maybe(CAUSE),
    blast_radius=maybe(BLAST),
    eval_delta=maybe(EVAL),
    follow_ups=st.lists(FOLLOW_UP, max_size=3),
    apparatus_updates=st.lists(APPARATUS_UPDATE, max_size=2),
    narrative=NARRATIVE,
)

# Shrinking an example this rich can take hypothesis minutes; a failure is reported as found, and
# the pinned examples at the end of this module name each known class of failing input.
ROUND_TRIP = settings(
    max_examples=200,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@ROUND_TRIP
@given(POSTMORTEM)
def test_render_then_parse_gives_back_the_same_postmortem(postmortem: Postmortem) -> None:
    rendered = render_markdown(postmortem)
    parsed = parse_postmortem(rendered, "roundtrip.md")

    assert parsed.issues == ()
    assert parsed.invalid_fields == frozenset()
    assert parsed.postmortem == postmortem
    # What is written to disk (UTF-8 bytes) reads back the same as the string, unless a NUL byte
    # in prose makes the file binary, which parse_postmortem refuses for bytes by design.
    if "\x00" not in rendered:
        assert parse_postmortem(rendered.encode("utf-8"), "roundtrip.md").postmortem == postmortem


@ROUND_TRIP
@given(POSTMORTEM)
def test_normalising_a_rendered_file_changes_nothing(postmortem: Postmortem) -> None:
    rendered = render_markdown(postmortem)

    assert render_parsed(parse_postmortem(rendered, "roundtrip.md")) == rendered


# --------------------------------------------------------------------------------------------
# Examples: each a class of input the property covers, pinned so a failure names its cause
# --------------------------------------------------------------------------------------------


def _round_trip(postmortem: Postmortem) -> Postmortem:
    parsed = parse_postmortem(render_markdown(postmortem), "roundtrip.md")
    assert parsed.issues == ()
    return parsed.postmortem


def test_a_fully_populated_postmortem_round_trips(full_postmortem: Postmortem) -> None:
    assert _round_trip(full_postmortem) == full_postmortem


def test_contributing_factor_is_written_with_the_class_key(full_postmortem: Postmortem) -> None:
    rendered = render_markdown(full_postmortem)

    assert "  - class: apparatus\n" in rendered
    assert "class_" not in rendered
    assert _round_trip(full_postmortem).cause.contributing[0].class_ is CauseClass.APPARATUS


def test_aware_times_keep_their_offset_and_naive_times_stay_naive(
    full_postmortem: Postmortem,
) -> None:
    back = _round_trip(full_postmortem).incident

    assert back.impact_started.tzinfo is None
    assert back.detected.utcoffset() == timedelta(hours=5, minutes=30)
    assert back.resolved.utcoffset() == timedelta(0)
    assert back.resolved.microsecond == 250000


@pytest.mark.parametrize("text", YAML_HOSTILE)
def test_yaml_hostile_text_round_trips_in_every_text_position(text: str) -> None:
    postmortem = Postmortem(
        title=text,
        services=[text],
        on_call=[OnCall(role=text)],
        timeline=[TimelineEntry(time=datetime(2026, 1, 1), event=text)],
        cause=Cause(subcategory=text),
        follow_ups=[FollowUp(owner=text)],
    )

    assert _round_trip(postmortem) == postmortem


@pytest.mark.parametrize(
    "text",
    ["a\n", "a\n\n", "\n", "x\n\n\n", "two\nlines\n"],
    ids=["one-trailing-newline", "two-trailing-newlines", "only-newline", "three", "multi"],
)
def test_text_ending_in_a_newline_keeps_it(text: str) -> None:
    """A literal block (``|``, ``|+``) as the last front-matter value must keep its line breaks."""
    postmortem = Postmortem(title=text)

    assert _round_trip(postmortem).title == text


def test_keep_chomped_text_does_not_end_the_front_matter_early() -> None:
    """YAML writes ``...`` after a ``|+`` block; the file must still be one front matter + body."""
    postmortem = Postmortem(id="a", title="a\n\n")
    rendered = render_markdown(postmortem)
    parsed = parse_postmortem(rendered, "roundtrip.md")

    assert parsed.preamble == ""
    assert render_parsed(parsed) == rendered


@pytest.mark.parametrize("fence", ["```", "~~~", "```python", "````\n```"])
def test_unclosed_code_fence_in_prose_does_not_swallow_the_following_parts(fence: str) -> None:
    """Prose that leaves a code fence open: the model refuses it (as it refuses '## x', since it
    would change the parts after it), or the file keeps every part. Today it does neither: the
    open fence swallows every later '## Part' heading when the file is read back."""
    try:
        narrative = Narrative(summary=f"{fence}\ncode", cause="the cause", went_wrong="last")
    except ValidationError:
        return  # refused like an H1/H2 heading: no Postmortem can hold it
    postmortem = Postmortem(narrative=narrative)

    back = _round_trip(postmortem)

    assert back.narrative.summary == f"{fence}\ncode"
    assert back.narrative.cause == "the cause"
    assert back.narrative.went_wrong == "last"


def test_fenced_heading_in_prose_round_trips() -> None:
    prose = "Before.\n\n```\n## not a heading\n```\n\n~~~~\n# nor this\n~~~~\n\nAfter."
    postmortem = Postmortem(narrative=Narrative(timeline=prose, cause="c"))

    back = _round_trip(postmortem)

    assert back.narrative.timeline == prose
    assert back.narrative.cause == "c"


def test_empty_postmortem_round_trips_and_renders_every_part_heading() -> None:
    rendered = render_markdown(Postmortem())

    assert rendered.startswith("---\n---\n")
    assert [line for line in rendered.split("\n") if line.startswith("## ")] == [
        f"## {part.heading}" for part in PARTS
    ]
    assert _round_trip(Postmortem()) == Postmortem()
