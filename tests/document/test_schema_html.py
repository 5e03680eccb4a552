"""The published JSON Schema of the front matter, and the HTML page of a postmortem."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from norecur.document import (
    SCHEMA_ID,
    front_matter_schema,
    new_postmortem,
    parse_postmortem,
    render_html,
    render_markdown,
)
from norecur.model import PARTS, Cause, FollowUp, Narrative, Postmortem, TimelineEntry


def _json_data(value: Any) -> Any:
    """Front matter as an editor sees it: JSON types, dates and times as ISO strings."""
    return json.loads(json.dumps(value, default=lambda moment: moment.isoformat()))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(front_matter_schema())


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = front_matter_schema()

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"] == "norecur postmortem front matter"
    assert schema["additionalProperties"] is False


def test_schema_describes_the_front_matter_not_the_prose() -> None:
    schema = front_matter_schema()

    assert "narrative" not in schema["properties"]
    assert "Narrative" not in schema.get("$defs", {})
    assert "Narrative" not in json.dumps(schema)
    assert set(schema["properties"]) == set(Postmortem.model_fields) - {"narrative"}
    contributing = schema["$defs"]["ContributingFactor"]["properties"]
    assert "class" in contributing
    assert "class_" not in contributing
    assert schema["properties"]["severity"]["examples"] == ["P0", "P1", "P2", "P3", "P4"]


def test_schema_validates_the_front_matter_of_a_rendered_postmortem(
    validator: Draft202012Validator, full_postmortem: Postmortem
) -> None:
    parsed = parse_postmortem(render_markdown(full_postmortem), "pm.md")
    data = _json_data(parsed.front_matter.data)

    assert data["cause"]["contributing"][0]["class"] == "apparatus"
    assert data["incident"]["detected"] == "2026-05-12T18:30:00+05:30"
    assert list(validator.iter_errors(data)) == []


def test_schema_validates_the_template_front_matter(validator: Draft202012Validator) -> None:
    """What `norecur new` writes must not light up red in an editor using the schema."""
    parsed = parse_postmortem(new_postmortem("inc-42", today=date(2026, 5, 13)), "pm.md")

    assert list(validator.iter_errors(_json_data(parsed.front_matter.data))) == []


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"cause": {"primary": "infra"}}, ["cause"]),
        ({"status": "finished"}, ["status"]),
        ({"owner": "bob"}, []),
        ({"blast_radius": {"users": -3}}, ["blast_radius"]),
        ({"timeline": [{"event": "paged"}]}, ["timeline", 0]),
        ({"follow_ups": [{"id": "a", "assignee": "bob"}]}, ["follow_ups", 0]),
        ({"services": 5}, ["services"]),
        ({"title": ""}, ["title"]),
    ],
    ids=[
        "cause-outside-vocabulary",
        "status",
        "unknown-key",
        "negative-count",
        "missing-time",
        "unknown-nested-key",
        "wrong-type",
        "empty-text",
    ],
)
def test_schema_rejects_what_the_parser_reports(
    validator: Draft202012Validator, data: dict[str, Any], where: list[Any]
) -> None:
    errors = list(validator.iter_errors(data))

    assert len(errors) == 1
    assert list(errors[0].absolute_path) == where


def test_schema_rejects_cause_outside_the_vocabulary_exactly(
    validator: Draft202012Validator,
) -> None:
    assert not validator.is_valid({"cause": {"primary": "infra"}})
    assert validator.is_valid({"cause": {"primary": "retrieval"}})
    assert validator.is_valid({"cause": {"contributing": [{"class": "apparatus"}]}})
    assert not validator.is_valid({"cause": {"contributing": [{"class_": "apparatus"}]}})


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def _hostile() -> Postmortem:
    return Postmortem(
        id="inc-1",
        title=f"Title {SCRIPT}",
        severity=SCRIPT,
        team=SCRIPT,
        services=[SCRIPT],
        authors=[SCRIPT],
        timeline=[TimelineEntry(time="2026-05-12T18:00:00", event=SCRIPT, actor=SCRIPT)],
        cause=Cause(subcategory=SCRIPT),
        follow_ups=[FollowUp(action=SCRIPT, owner=SCRIPT, ticket=SCRIPT)],
        narrative=Narrative(
            **{
                part.key: f"{SCRIPT}\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))"
                for part in PARTS
            }
        ),
    )


def test_html_escapes_hostile_text_everywhere() -> None:
    page = render_html(_hostile())

    assert SCRIPT not in page
    assert "<script" not in page.lower()
    assert "<img" not in page
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<title>inc-1: Title &lt;script&gt;alert(1)&lt;/script&gt;</title>" in page


def test_html_has_every_part_heading_in_order(full_postmortem: Postmortem) -> None:
    page = render_html(full_postmortem)

    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == [part.heading for part in PARTS]


def test_html_renders_prose_as_markdown_and_structured_fields(full_postmortem: Postmortem) -> None:
    page = render_html(full_postmortem, version="9.9.9")

    assert '<meta name="generator" content="norecur 9.9.9">' in page
    assert "<h1>Checkout assistant quoted stale prices</h1>" in page
    assert "<strong>old prices</strong>" in page
    assert "<li>one</li>" in page
    # the fenced '## not a heading' is code, not a heading
    assert "## not a heading" in page
    assert "<h2>not a heading</h2>" not in page
    assert '<span class="badge">retrieval</span> / stale-index' in page
    assert "ünïcödé ✓ 漢字 🚀" in page
    assert "checkout-bot, pricing-rag" in page


def test_html_of_an_empty_postmortem_shows_the_gaps() -> None:
    page = render_html(Postmortem())

    assert "<h1>Untitled postmortem</h1>" in page
    assert re.findall(r"<h2>(.*?)</h2>", page) == [part.heading for part in PARTS]
    assert '<span class="gap">primary cause not classified</span>' in page
    assert '<span class="gap">no follow-ups</span>' in page
