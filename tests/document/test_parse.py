"""Reading real postmortem files: exact values, sections and lines out."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from norecur.document import (
    ParsedPostmortem,
    SchemaIssue,
    new_postmortem,
    parse_postmortem,
    read_postmortem,
    render_parsed,
)
from norecur.errors import DocumentError, FrontMatterError
from norecur.model import (
    PARTS,
    ApparatusKind,
    CauseClass,
    FollowUpStatus,
    FollowUpType,
    OnCall,
    PostmortemStatus,
    TimelineKind,
    heading_lines,
)

# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------

TODAY = date(2026, 5, 13)


def test_template_parses_with_no_issues_and_every_part(write) -> None:
    path = write(new_postmortem("inc-42", today=TODAY, title="Checkout bot quoted stale prices"))

    parsed = read_postmortem(path)

    assert parsed.path == str(path)
    assert parsed.issues == ()
    assert parsed.invalid_fields == frozenset()
    pm = parsed.postmortem
    assert pm.id == "inc-42"
    assert pm.status is PostmortemStatus.DRAFT
    assert pm.dates.written == TODAY
    assert pm.dates.published is None
    assert pm.incident.timezone == "UTC"
    assert pm.on_call == [OnCall(role="primary")]
    assert [(f.id, f.status) for f in pm.follow_ups] == [("a", FollowUpStatus.OPEN)]
    assert pm.cause is None  # every key empty: the part is absent, not an empty Cause
    assert pm.blast_radius is None
    assert pm.eval_delta is None
    assert [(s.heading, s.level, s.line, s.part.key) for s in parsed.sections] == [
        ("Identification", 2, 64, "identification"),
        ("Summary", 2, 68, "summary"),
        ("Timeline", 2, 72, "timeline"),
        ("Cause", 2, 76, "cause"),
        ("Blast radius", 2, 80, "blast_radius"),
        ("Eval delta", 2, 84, "eval_delta"),
        ("Follow-up actions", 2, 88, "follow_ups"),
        ("Apparatus updates", 2, 92, "apparatus_updates"),
        ("What went well", 2, 96, "went_well"),
        ("What did not go well", 2, 100, "went_wrong"),
    ]
    assert parsed.title_heading.heading == "Checkout bot quoted stale prices"
    assert parsed.title_heading.line == 62
    assert parsed.front_matter.first_line == 1
    assert parsed.front_matter.last_line == 60
    assert (
        pm.narrative.summary
        == "<!-- 3-5 sentences: what happened, what users saw, what was done. -->"
    )


def test_template_field_lines(write) -> None:
    parsed = read_postmortem(write(new_postmortem("inc-42", today=TODAY)))

    assert parsed.line_of(("id",)) == 4
    assert parsed.line_of(("dates", "written")) == 16
    assert parsed.line_of(("incident", "timezone")) == 19
    assert parsed.line_of(("follow_ups", 0)) == 48
    assert parsed.line_of(("follow_ups", 0, "owner")) == 50
    assert parsed.line_of(("follow_ups", 0, "status")) == 52
    assert parsed.line_of(("apparatus_updates", 0, "follow_up")) == 59


def test_template_title_is_kept_when_the_file_is_normalised() -> None:
    """new_postmortem(title=...) must put the title where the model reads it, not only in the H1.

    render_parsed writes the '# Title' line from the `title` field, so a title that lives only in
    the H1 is dropped the first time the fresh template is normalised.
    """
    parsed = parse_postmortem(new_postmortem("inc-42", today=TODAY, title="Stale prices"), "t.md")

    assert parsed.postmortem.title == "Stale prices"
    assert "\n# Stale prices\n" in render_parsed(parsed)


@pytest.mark.parametrize(
    "bad_id", ["", "../etc/passwd", "-leading-dash", "has space", "a" * 101, "id\n"]
)
def test_template_refuses_an_id_that_is_not_a_plain_token(bad_id: str) -> None:
    with pytest.raises(ValueError, match="must start with a letter or digit"):
        new_postmortem(bad_id, today=TODAY)


# --------------------------------------------------------------------------------------------
# A hand-written file: values, sections, lines
# --------------------------------------------------------------------------------------------


def test_example_values(write, example_text) -> None:
    pm = read_postmortem(write(example_text)).postmortem

    assert pm.id == "inc-2026-041"
    assert pm.title == "Checkout assistant quoted stale prices"
    assert pm.severity == "P1"
    assert pm.status is PostmortemStatus.IN_REVIEW
    assert pm.services == ["checkout-bot", "pricing-rag"]
    # 'HH:MM' is not a YAML timestamp; the model still reads it as a naive time.
    assert pm.incident.impact_started == datetime(2026, 5, 12, 18, 0)
    assert pm.incident.impact_started.tzinfo is None
    assert pm.incident.detected == datetime(
        2026, 5, 12, 18, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert pm.incident.detected.utcoffset() == timedelta(hours=5, minutes=30)
    assert pm.timeline[0].kind is TimelineKind.DETECTION
    assert pm.cause.primary is CauseClass.RETRIEVAL
    assert pm.cause.contributing[0].class_ is CauseClass.APPARATUS
    assert pm.blast_radius.sessions == 1200
    assert pm.blast_radius.duration_minutes == 182.5
    assert pm.eval_delta.gap is True
    assert pm.follow_ups[0].type is FollowUpType.APPARATUS
    assert pm.follow_ups[0].apparatus_kind is ApparatusKind.ALERT
    assert pm.follow_ups[1].due == date(2026, 6, 15)
    assert pm.apparatus_updates[0].follow_up == "a"


def test_sections_map_to_parts_with_their_heading_lines(write, example_text) -> None:
    parsed = read_postmortem(write(example_text))

    assert [
        (s.heading, s.level, s.line, s.part.key if s.part else None) for s in parsed.sections
    ] == [
        ("Identification", 2, 59, "identification"),
        ("Summary", 2, 63, "summary"),
        ("Timeline", 2, 67, "timeline"),
        ("Cause", 2, 74, "cause"),
        ("Blast radius", 2, 82, "blast_radius"),
        ("Eval delta", 2, 84, "eval_delta"),
        ("Follow-up actions", 2, 86, "follow_ups"),
        ("Apparatus updates", 2, 88, "apparatus_updates"),
        ("What went well", 2, 90, "went_well"),
        ("What did not go well", 2, 94, "went_wrong"),
        ("Appendix", 2, 96, None),
    ]
    assert parsed.section("cause").line == 74
    assert parsed.section("went_well").body == "\nThe rollback was quick.\n"
    assert parsed.title_heading.line == 55
    assert parsed.title_heading.heading == "Checkout assistant quoted stale prices"
    assert parsed.preamble == "Context before the first part."
    assert parsed.preamble_line == 54
    assert (parsed.front_matter.first_line, parsed.front_matter.last_line) == (1, 53)


def test_prose_is_normalised_per_part(write, example_text) -> None:
    narrative = read_postmortem(write(example_text)).postmortem.narrative

    assert narrative.identification == "Related: inc-2025-990."
    assert narrative.summary == "Users saw **old prices** for 3 hours."
    assert narrative.cause == (
        "The pipeline allowed a stale index to serve.\n\n### Why the probe was late\n\nIt ran hourly."
    )
    assert narrative.blast_radius == ""
    assert narrative.went_wrong == ""  # the non-part '## Appendix' is not part of it


def test_code_fence_with_headings_is_prose(write, example_text) -> None:
    parsed = read_postmortem(write(example_text))

    assert parsed.postmortem.narrative.timeline == (
        "```text\n## not a heading: a fenced line\n# nor this\n```"
    )
    assert "## not a heading: a fenced line" not in [s.heading for s in parsed.sections]
    assert all(s.line not in (70, 71) for s in parsed.sections)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("id",), 2),
        (("services",), 7),
        (("services", 1), 7),
        (("authors", 0), 9),
        (("on_call", 0, "name"), 12),
        (("incident", "detected"), 18),
        (("timeline", 0), 20),
        (("timeline", 0, "event"), 22),
        (("cause", "contributing", 0, "class"), 27),
        (("blast_radius", "duration_minutes"), 31),
        (("follow_ups", 0, "owner"), 39),
        (("follow_ups", 1), 44),
        (("follow_ups", 1, "owner"), 46),
        (("follow_ups", 1, "status"), 48),
        (("apparatus_updates", 0, "change"), 51),
        # absent: the nearest present ancestor, else the opening '---'
        (("follow_ups", 1, "ticket"), 44),
        (("follow_ups", 7, "owner"), 36),
        (("reviewers",), 1),
    ],
)
def test_field_lines(write, example_text, path, line) -> None:
    assert read_postmortem(write(example_text)).line_of(path) == line


def test_normalising_a_hand_written_file_twice_changes_nothing_more(write, example_text) -> None:
    once = render_parsed(read_postmortem(write(example_text)))

    assert render_parsed(parse_postmortem(once, "pm.md")) == once
    assert "## Appendix\n\nRaw logs.\n" in once
    assert "Context before the first part." in once


def test_normalising_keeps_a_second_h1_of_the_preamble() -> None:
    """With no `title` field, the first H1 is dropped (documented); the second H1 stays in the
    preamble after one run, but the next run takes it for the title and drops it too."""
    text = "---\nid: a\n---\n\n# A\n\n# B\n\nIntro.\n\n## Summary\n\nS.\n"

    once = render_parsed(parse_postmortem(text, "pm.md"))
    twice = render_parsed(parse_postmortem(once, "pm.md"))

    assert "# B" in once
    assert twice == once


def test_field_lines_count_only_newlines_as_line_breaks() -> None:
    """U+2028/U+2029/U+0085 are not line breaks in the file an editor shows (only '\\n' is), but
    YAML 1.1 counts them; a field after one must still be reported at its file line."""
    parsed = parse_postmortem("---\ntitle: 'a\u2028b'\nteam: x\n---\n", "pm.md")

    assert parsed.postmortem.title == "a\u2028b"
    assert parsed.line_of(("team",)) == 3


# --------------------------------------------------------------------------------------------
# Contract violations: parsed, recorded as issues, the field left out
# --------------------------------------------------------------------------------------------

VIOLATIONS = """\
---
id: inc-7
status: finished
owner: bob
blast_radius:
  sessions: 10
  users: -3
timeline:
  - event: paged
    kind: detection
cause:
  primary: infra
follow_ups:
  - id: a
    status: open
  - id: b
    status: someday
team: assistants
---

## Summary

Text.
"""


def test_contract_violations_become_issues_with_exact_lines(write) -> None:
    parsed = read_postmortem(write(VIOLATIONS))

    assert sorted(parsed.issues, key=lambda issue: issue.line) == [
        SchemaIssue(
            ("status",),
            "'finished' is not one of draft, in-review, published, not-required",
            "enum",
            3,
        ),
        SchemaIssue(("owner",), "unknown field", "extra_forbidden", 4),
        SchemaIssue(
            ("blast_radius", "users"),
            "Input should be greater than or equal to 0",
            "greater_than_equal",
            7,
        ),
        SchemaIssue(("timeline", 0, "time"), "required field is missing", "missing", 9),
        SchemaIssue(
            ("cause", "primary"),
            "'infra' is not one of prompt, model, retrieval, data, tooling, gateway, upstream, apparatus",
            "enum",
            12,
        ),
        SchemaIssue(
            ("follow_ups", 1, "status"),
            "'someday' is not one of open, in-progress, done, wont-do",
            "enum",
            17,
        ),
    ]
    assert [issue.dotted for issue in sorted(parsed.issues, key=lambda i: i.line)] == [
        "status",
        "owner",
        "blast_radius.users",
        "timeline[0].time",
        "cause.primary",
        "follow_ups[1].status",
    ]


def test_offending_top_level_fields_are_left_out_and_the_rest_kept(write) -> None:
    parsed = read_postmortem(write(VIOLATIONS))

    assert parsed.invalid_fields == frozenset(
        {"status", "owner", "blast_radius", "timeline", "cause", "follow_ups"}
    )
    pm = parsed.postmortem
    assert pm.status is None
    assert pm.blast_radius is None  # sessions: 10 goes with it: the whole top-level field is out
    assert pm.timeline == []
    assert pm.cause is None
    assert pm.follow_ups == []  # the valid follow-up 'a' goes too
    assert pm.id == "inc-7"
    assert pm.team == "assistants"
    assert pm.narrative.summary == "Text."


def test_enum_typo_suggests_the_close_value() -> None:
    parsed = parse_postmortem("---\nstatus: publised\ncause:\n  primary: retreival\n---\n", "pm.md")

    assert parsed.issues == (
        SchemaIssue(
            ("status",),
            "'publised' is not one of draft, in-review, published, not-required; did you mean 'published'?",
            "enum",
            2,
        ),
        SchemaIssue(
            ("cause", "primary"),
            "'retreival' is not one of prompt, model, retrieval, data, tooling, gateway, upstream, "
            "apparatus; did you mean 'retrieval'?",
            "enum",
            4,
        ),
    )


def test_unknown_nested_key_is_an_issue(write) -> None:
    text = "---\nid: x\nfollow_ups:\n  - id: a\n    assignee: bob\n---\n"

    parsed = read_postmortem(write(text))

    assert parsed.issues == (
        SchemaIssue(("follow_ups", 0, "assignee"), "unknown field", "extra_forbidden", 5),
    )
    assert parsed.postmortem.follow_ups == []


def test_unknown_time_zone_is_an_issue(write) -> None:
    parsed = read_postmortem(write("---\nincident:\n  timezone: Mars/Olympus\n---\n"))

    assert parsed.issues == (
        SchemaIssue(
            ("incident", "timezone"), "unknown IANA time zone 'Mars/Olympus'", "value_error", 3
        ),
    )
    assert parsed.postmortem.incident.timezone is None


def test_non_finite_duration_is_an_issue(write) -> None:
    parsed = read_postmortem(write("---\nblast_radius:\n  duration_minutes: .inf\n---\n"))

    assert parsed.issues == (
        SchemaIssue(
            ("blast_radius", "duration_minutes"),
            "Input should be a finite number",
            "finite_number",
            3,
        ),
    )


def test_normalising_refuses_a_file_with_issues(write) -> None:
    parsed = read_postmortem(write(VIOLATIONS))

    with pytest.raises(DocumentError) as caught:
        render_parsed(parsed)

    assert caught.value.line == parsed.issues[0].line
    assert caught.value.field == parsed.issues[0].dotted
    assert caught.value.path == parsed.path


@pytest.mark.parametrize(
    "text",
    ["---\n1: a\n---\n", "---\n~: a\n---\n"],
    ids=["int-key", "null-key"],
)
def test_non_text_top_level_key_points_at_its_own_line(text: str) -> None:
    """A key YAML reads as a number or null is refused at line 2, not at the opening '---'."""
    with pytest.raises(FrontMatterError) as caught:
        parse_postmortem(text, "pm.md")

    assert caught.value.line == 2
    assert "not text" in caught.value.message


@pytest.mark.parametrize("key", ["true", "yes", "on", "off"])
def test_boolean_looking_top_level_key_is_reported_at_its_line(key: str) -> None:
    """YAML 1.1 reads `on:`/`yes:` keys as booleans; the report must still say where it is."""
    text = f"---\nid: a\n{key}: b\n---\n"

    # Either design is fine: an issue the linter reports, or an error that names the line.
    try:
        outcome: ParsedPostmortem | DocumentError = parse_postmortem(text, "pm.md")
    except DocumentError as error:
        outcome = error

    if isinstance(outcome, DocumentError):
        assert outcome.line == 3
        assert "validation error" not in outcome.message  # a sentence, not pydantic's dump
    else:
        assert [issue.line for issue in outcome.issues] == [3]
        assert outcome.postmortem.id == "a"


# --------------------------------------------------------------------------------------------
# Headings
# --------------------------------------------------------------------------------------------


def test_heading_lines_ignores_fenced_and_indented_headings() -> None:
    text = "\n".join(
        [
            "## One",  # 0
            "```",  # 1
            "## fenced",  # 2
            "~~~",  # 3: a tilde line does not close a backtick fence
            "## still fenced",  # 4
            "```",  # 5
            "    ## indented code",  # 6
            "##no-space",  # 7
            "   ## Three spaces ##",  # 8
            "### Three",  # 9
            "#",  # 10
            "````md",  # 11
            "```",  # 12: shorter than the opener: does not close
            "# fenced",  # 13
            "`````",  # 14
            "# Last #",  # 15
        ]
    )

    assert heading_lines(text) == [
        (0, 2, "One"),
        (8, 2, "Three spaces"),
        (10, 1, ""),
        (15, 1, "Last"),
    ]
    assert heading_lines(text, max_level=3) == [
        (0, 2, "One"),
        (8, 2, "Three spaces"),
        (9, 3, "Three"),
        (10, 1, ""),
        (15, 1, "Last"),
    ]


def test_part_headings_match_without_case_and_with_spaces_folded() -> None:
    text = (
        "---\nid: a\n---\n\n##   follow-UP    actions  \n\nDo it.\n\n## WHAT WENT WELL\n\nGood.\n"
    )

    parsed = parse_postmortem(text, "pm.md")

    assert parsed.section("follow_ups").line == 5
    assert parsed.postmortem.narrative.follow_ups == "Do it."
    assert parsed.postmortem.narrative.went_well == "Good."


def test_duplicate_part_heading_first_wins_second_is_kept_as_extra() -> None:
    text = "---\nid: a\n---\n\n## Summary\n\nFirst.\n\n## Summary\n\nSecond.\n"

    parsed = parse_postmortem(text, "pm.md")

    assert parsed.postmortem.narrative.summary == "First."
    assert [(s.heading, s.line) for s in parsed.sections] == [("Summary", 5), ("Summary", 9)]
    rendered = render_parsed(parsed)
    assert rendered.count("## Summary") == 2
    assert (
        rendered.index("First.")
        < rendered.index("## What did not go well")
        < rendered.index("Second.")
    )


def test_every_part_heading_is_recognised() -> None:
    body = "".join(f"\n## {part.heading}\n\n{part.key} text\n" for part in PARTS)
    parsed = parse_postmortem("---\n---\n" + body, "pm.md")

    for part in PARTS:
        assert getattr(parsed.postmortem.narrative, part.key) == f"{part.key} text"
        assert parsed.section(part.key).part is part


# --------------------------------------------------------------------------------------------
# Line endings and byte-order mark
# --------------------------------------------------------------------------------------------


def test_crlf_file_parses_the_same_as_lf(write, example_text) -> None:
    lf = read_postmortem(write(example_text, "lf.md"))
    crlf = read_postmortem(write(example_text.replace("\n", "\r\n"), "crlf.md"))

    assert crlf.postmortem == lf.postmortem
    assert crlf.sections == lf.sections
    assert crlf.front_matter.lines == lf.front_matter.lines
    assert crlf.title_heading == lf.title_heading
    assert crlf.preamble == lf.preamble
    assert crlf.text == lf.text
    assert crlf.line_of(("follow_ups", 1, "owner")) == 46


def test_lone_cr_line_endings_parse_the_same_as_lf(example_text) -> None:
    lf = parse_postmortem(example_text, "pm.md")
    cr = parse_postmortem(example_text.replace("\n", "\r").encode(), "pm.md")

    assert cr == lf


def test_utf8_bom_is_accepted_and_does_not_shift_lines(write, example_text) -> None:
    plain = read_postmortem(write(example_text, "plain.md"))
    bom = read_postmortem(
        write(b"\xef\xbb\xbf" + example_text.replace("\n", "\r\n").encode(), "bom.md")
    )

    assert bom.postmortem == plain.postmortem
    assert bom.sections == plain.sections
    assert bom.front_matter.first_line == 1
    assert bom.line_of(("follow_ups", 0, "owner")) == 39


def test_bom_in_already_decoded_text_is_accepted(example_text) -> None:
    """Text read with encoding='utf-8' keeps the BOM as U+FEFF; it is no more content than in bytes."""
    assert (
        parse_postmortem("\ufeff" + example_text, "pm.md").postmortem
        == parse_postmortem(example_text, "pm.md").postmortem
    )


def test_front_matter_may_close_with_dots_and_delimiters_may_carry_trailing_spaces() -> None:
    parsed = parse_postmortem("---  \nid: a\n...\t\n\n## Summary\n\nS.\n", "pm.md")

    assert parsed.postmortem.id == "a"
    assert parsed.front_matter.last_line == 3
    assert parsed.section("summary").line == 5


def test_empty_front_matter_is_an_empty_postmortem() -> None:
    parsed = parse_postmortem("---\n---\n", "pm.md")

    assert parsed.issues == ()
    assert parsed.postmortem.front_matter() == {}
    assert parsed.sections == ()
